//! The `tresor` command line: serve, migrate, keys init, policy check,
//! audit, witness, backup and restore.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ring::rand::{SecureRandom, SystemRandom};

use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use tresor::clock::SystemClock;
use tresor::config::Config;
use tresor::config::{KeyProviderKind, SigningKeyPlace};
use tresor::crypto::{
    FileKeyProvider, KdfParams, KeyProvider, Passphrase, Pin, Pkcs11KeyProvider, SigningKeySource, TokenSettings,
};
use tresor::identity::dev_idp::DevIdp;
use tresor::policy::{LoginLevel, Policies};
use tresor::server::{self, Parts};

#[derive(Parser)]
#[command(name = "tresor", version, about = "Secure evidence vault for city administrations")]
struct Cli {
    /// Configuration file (TOML). TRESOR_* environment variables override it.
    #[arg(long, global = true, env = "TRESOR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the vault.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Address of the TLS listener (overrides [tls] listen; in dev mode
        /// default 127.0.0.1:8443).
        #[arg(long, value_name = "ADDRESS")]
        tls_listen: Option<SocketAddr>,
        /// Development mode: throwaway SQLite and keys, built-in test identity
        /// provider, TLS listener with a throwaway department PKI.
        #[arg(long)]
        dev: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Audit log tools for data-protection officers: verify, export.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the OpenAPI 3.1 description of the JSON API (as served at
    /// /api/v1/openapi.json; `tresor openapi > openapi.json` updates the
    /// repository's copy).
    Openapi,
    /// An independent witness for tresor audit logs (C2SP tlog-witness), run
    /// by someone other than the city.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Back the SQLite vault up into one archive while it serves (never the
    /// keys); `tresor backup verify FILE` checks an archive.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
        /// The archive to write (a new file; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Restore an archive of `tresor backup` into the empty data directory,
    /// verified, without the citizens on the erasure list.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        trust: BackupTrust,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Check an archive: every member's SHA-256, the database's integrity,
    /// the blobs, and the audit log against the signing key.
    Verify {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        trust: BackupTrust,
    },
}

/// What a backup's audit log is checked against.
#[derive(clap::Args)]
struct BackupTrust {
    /// The checkpoint signing key: base64 as in signing-key.pub, or a note
    /// verifier key. Default: <key_dir>/signing-key.pub.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// A signed checkpoint saved before the backup (outside the database): the
    /// backup's log must contain it.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Create the witness's signing key (a new file, mode 0600) and print its
    /// verifier key, which the vault's `[[witnesses]] key` needs.
    Keygen {
        /// The witness's name, a schema-less URL such as witness.lfd.example/tresor.
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Serve the C2SP tlog-witness protocol: POST /add-checkpoint and
    /// GET /<sha256(origin) hex>/checkpoint.
    Serve {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The witness's state (latest cosigned checkpoint per log), a SQLite file.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// A log to witness, by its verifier key <origin>+<id>+<key> (the
        /// vault's /api/v1/audit/checkpoint `verifier_key`). Repeat for several logs.
        #[arg(long = "log", value_name = "VERIFIER_KEY", required = true)]
        logs: Vec<String>,
        /// Address to listen on (port 0: any free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the KEK, signing key and identifier pepper: sealed with
    /// TRESOR_KEY_PASSPHRASE in the key directory, or, with [keys] provider =
    /// "pkcs11", as non-extractable keys in the token (PIN from [keys] pin_env).
    Init,
    /// Create a new KEK version and re-wrap every citizen's key with it (no
    /// evidence is re-encrypted) while the vault serves; an interrupted
    /// rotation is resumed; old versions move to `retired/` once unused.
    RotateKek {
        /// Keys re-wrapped per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
        /// Pause before the last count that allows retiring the old version.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600))]
        settle_seconds: u64,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate the policy directory (default: the configured one).
    Check { dir: Option<PathBuf> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRESOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        // One object per line; a request's lines carry its `request` span
        // (request id, method, route pattern) as `span`.
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi = cli.command {
        // Needs no configuration: the description is the code's.
        print!("{}", tresor::http::openapi::document());
        return Ok(());
    }
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { listen, tls_listen, dev } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(tls_listen) = tls_listen {
                match &mut config.tls {
                    Some(tls) => tls.listen = tls_listen,
                    None if dev => {}
                    None => bail!("--tls-listen needs a [tls] section (certificate_file, private_key_file)"),
                }
            }
            init_logging(config.log_json);
            serve(config, dev, tls_listen).await
        }
        Command::Witness { command: WitnessCommand::Keygen { name, key } } => {
            let witness_key = tresor::witness::WitnessKey::write_new(&name, &key)?;
            println!("Witness key written to {} (keep it secret; back it up).", key.display());
            println!("{}", witness_key.cosigner().verifier_key());
            Ok(())
        }
        Command::Witness { command: WitnessCommand::Serve { key, state, logs, listen } } => {
            init_logging(config.log_json);
            let witness_key = tresor::witness::WitnessKey::load(&key)?;
            let witness = std::sync::Arc::new(tresor::witness::Witness::open(witness_key, &logs, &state)?);
            let limits = tresor::http::listener::ConnectionLimits::from_config(&config);
            tresor::witness::serve(witness, listen, limits, shutdown_signal()).await
        }
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.migrate().await.context("applying migrations")?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Keys { command: KeysCommand::Init } if config.keys.provider == KeyProviderKind::Pkcs11 => {
            let pin = Pin::new(config.keys.pin()?.expose().to_owned());
            let settings = token_settings(&config, &pin)?;
            let dir = config.key_dir();
            let passphrase = match config.keys.signing_key {
                SigningKeyPlace::File => Some(key_passphrase()?),
                SigningKeyPlace::Token => None,
            };
            let signing = match &passphrase {
                Some(passphrase) => SigningKeySource::File { dir: &dir, passphrase },
                None => SigningKeySource::Token,
            };
            let public_key = Pkcs11KeyProvider::init(&settings, signing)?;
            println!(
                "Keys created in token {:?}: KEK version 1 and the identifier pepper (non-extractable).",
                settings.token_label
            );
            match passphrase {
                Some(_) => println!("Signing key sealed in {} with TRESOR_KEY_PASSPHRASE.", dir.display()),
                None => println!("Ed25519 signing key created in the token."),
            }
            println!("Signing public key (base64): {}", base64_encode(&public_key));
            println!(
                "The keys cannot leave this token: back the token up the way its maker provides (SoftHSM2: its token directory), or all data is lost with it."
            );
            Ok(())
        }
        Command::Keys { command: KeysCommand::Init } => {
            let passphrase = key_passphrase()?;
            let dir = config.key_dir();
            FileKeyProvider::init(&dir, &passphrase, KdfParams::default(), &SystemRandom::new())?;
            println!("Keys created in {} (sealed with TRESOR_KEY_PASSPHRASE).", dir.display());
            println!("Back up this directory and the passphrase separately; without both, all data is lost.");
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateKek { batch, settle_seconds } } => {
            rotate_kek(&config, batch, settle_seconds).await
        }
        Command::Policy { command: PolicyCommand::Check { dir } } => {
            let dir = dir.unwrap_or_else(|| config.policy_dir.clone());
            let policies = Policies::load(&dir)?;
            let staff = tresor::identity::staff::StaffPolicy::load(&dir)?;
            println!(
                "{}: {} evidence types, {} departments, {} services and the staff policy ({} DPOs), all valid.",
                dir.display(),
                policies.evidence_types.iter().count(),
                policies.departments.len(),
                policies.services.len(),
                staff.len()
            );
            Ok(())
        }
        Command::Audit { command } => audit(&config, command).await,
        Command::Openapi => Ok(()),
        Command::Backup { command: None, out: Some(out) } => backup_create(&config, &out).await,
        Command::Backup { command: None, out: None } => {
            bail!("tresor backup needs --out FILE (or: tresor backup verify FILE)")
        }
        Command::Backup { command: Some(BackupCommand::Verify { file, trust }), .. } => {
            backup_verify(&config, &file, &trust).await
        }
        Command::Restore { file, trust } => restore(&config, &file, &trust).await,
    }
}

// --- tresor backup / restore -------------------------------------------------

async fn backup_create(config: &Config, out: &std::path::Path) -> anyhow::Result<()> {
    let summary = tresor::backup::create(&config.database_url(), out, tresor::backup::progress::terminal()).await?;
    let manifest = &summary.manifest;
    println!(
        "Backup written to {} ({} bytes): database at migration {}, {} files, {} audit entries{}.",
        out.display(),
        summary.archive_bytes,
        manifest.schema_version,
        manifest.files,
        manifest.audit.tree_size,
        match &manifest.audit.checkpoint {
            Some(_) => ", newest signed checkpoint included",
            None => ", no signed checkpoint yet",
        }
    );
    println!(
        "The keys are not in it: back up the key directory (with its erasure list) and the passphrase separately."
    );
    Ok(())
}

/// The signing key and the saved checkpoint a backup is checked against.
fn backup_trust(config: &Config, trust: &BackupTrust) -> anyhow::Result<([u8; 32], Option<String>)> {
    let key_path = trust.public_key.clone().unwrap_or_else(|| config.key_dir().join("signing-key.pub"));
    let public_key = read_audit_public_key(&key_path)?;
    let saved = match &trust.checkpoint {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the saved checkpoint {}", path.display()))?,
        ),
        None => None,
    };
    Ok((public_key, saved))
}

async fn backup_verify(config: &Config, file: &std::path::Path, trust: &BackupTrust) -> anyhow::Result<()> {
    let (public_key, saved) = backup_trust(config, trust)?;
    let summary = tresor::backup::verify(file, &public_key, saved.as_deref(), tresor::backup::progress::terminal())
        .await
        .map_err(|error| anyhow::anyhow!("backup verification FAILED: {error}"))?;
    println!(
        "OK: {} made by tresor {} at {}: {} members match the manifest, the database is intact, {} files, {} audit \
         entries and {} checkpoints verify{}.",
        file.display(),
        summary.manifest.tresor_version,
        summary.manifest.created_at,
        summary.manifest.members.len(),
        summary.manifest.files,
        summary.audit.entries,
        summary.audit.checkpoints_verified,
        if saved.is_some() { ", the saved checkpoint is a prefix of the log" } else { "" }
    );
    Ok(())
}

async fn restore(config: &Config, file: &std::path::Path, trust: &BackupTrust) -> anyhow::Result<()> {
    let (public_key, saved) = backup_trust(config, trust)
        .context("restore checks the backup's audit log: restore the key directory first")?;
    let erasure_list = tresor::backup::ErasureList::new(config.erasure_list_path());
    let target = tresor::backup::RestoreTarget {
        database_url: &config.database_url(),
        allowed: vec![config.key_dir(), config.erasure_list_path()],
        erasure_list: &erasure_list,
    };
    let summary =
        tresor::backup::restore(file, target, &public_key, saved.as_deref(), tresor::backup::progress::terminal())
            .await
            .map_err(|error| anyhow::anyhow!("restore FAILED, nothing was restored: {error}"))?;
    println!(
        "Restored {} into {}: {} files, {} audit entries verified; {} citizens on the erasure list were deleted again.",
        file.display(),
        summary.database.display(),
        summary.manifest.files,
        summary.audit.entries,
        summary.erased
    );
    println!(
        "Entries after the backup ({}) are not in the restored log: witnesses that cosigned a later checkpoint \
         will refuse this log as a rollback (see README, Backup and restore).",
        summary.manifest.created_at
    );
    Ok(())
}

/// The configured database, waiting at most `limits.store_timeout_seconds`
/// for it on every call.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn tresor::store::Store>> {
    let options =
        tresor::store::StoreOptions { timeout: std::time::Duration::from_secs(config.limits.store_timeout_seconds) };
    tresor::store::open_with(&config.database_url(), options).await.context("opening the database")
}

/// `tresor keys rotate-kek`, with a progress bar on the terminal.
async fn rotate_kek(config: &Config, batch: u32, settle_seconds: u64) -> anyhow::Result<()> {
    use tresor::vault::key_rotation::{RotationSettings, rotate_file_keks};
    if matches!(config.keys.provider, KeyProviderKind::Pkcs11) {
        bail!(
            "keys rotate-kek re-wraps with the key files' KEKs only; with [keys] provider = \"pkcs11\" a new KEK \
             version is not yet rotated in by a command (see SECURITY.md)"
        );
    }
    let passphrase = key_passphrase()?;
    let store = open_store(config).await?;
    let settings =
        RotationSettings { batch, settle: std::time::Duration::from_secs(settle_seconds), ..Default::default() };
    let started = std::time::Instant::now();
    let progress = RotationBar::default();
    let report = rotate_file_keks(
        store.as_ref(),
        &config.key_dir(),
        &passphrase,
        KdfParams::default(),
        &SystemRandom::new(),
        &settings,
        &progress,
    )
    .await
    .map_err(|error| {
        use tresor::vault::key_rotation::RotationError;
        match error {
            // Nothing was changed: nothing to resume.
            RotationError::Crypto(tresor::crypto::CryptoError::WrongPassphrase) | RotationError::MissingKek { .. } => {
                anyhow::anyhow!("KEK rotation refused, nothing changed: {error}")
            }
            other => anyhow::anyhow!("KEK rotation stopped (run the command again to resume it): {other}"),
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let how = if report.created { "created" } else { "resumed" };
    println!(
        "KEK v{} {how}: {} key(s) re-wrapped in {seconds:.1} s ({:.0}/s); every key is wrapped under v{}.",
        report.version,
        report.rewrapped,
        report.rewrapped as f64 / seconds.max(0.001),
        report.version
    );
    for (version, path) in &report.retired {
        println!(
            "KEK v{version} retired: moved to {} (keep it as long as you keep backups made before this rotation).",
            path.display()
        );
    }
    Ok(())
}

/// The rotation's progress on stderr (hidden when stderr is not a terminal).
#[derive(Default)]
struct RotationBar(std::sync::Mutex<Option<indicatif::ProgressBar>>);

impl tresor::vault::key_rotation::RotationProgress for RotationBar {
    fn pass(&self, number: u32, total: u64) {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("pass {msg} [{bar:40}] {pos}/{len} keys, {per_sec}, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(number.to_string());
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bar);
    }

    fn advance(&self, done: u64) {
        if let Some(bar) = &*self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            bar.inc(done);
        }
    }

    fn finish_pass(&self) {
        if let Some(bar) = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            bar.finish();
        }
    }
}

/// The configured key provider: the token with `[keys] provider = "pkcs11"`,
/// else the sealed files in the key directory.
fn open_keys(config: &Config) -> anyhow::Result<Arc<dyn KeyProvider>> {
    match config.keys.provider {
        KeyProviderKind::File => Ok(Arc::new(FileKeyProvider::open(&config.key_dir(), &key_passphrase()?)?)),
        KeyProviderKind::Pkcs11 => {
            let pin = Pin::new(config.keys.pin()?.expose().to_owned());
            let settings = token_settings(config, &pin)?;
            let dir = config.key_dir();
            let provider = match config.keys.signing_key {
                SigningKeyPlace::Token => Pkcs11KeyProvider::open(&settings, SigningKeySource::Token)?,
                SigningKeyPlace::File => {
                    let passphrase = key_passphrase()?;
                    Pkcs11KeyProvider::open(&settings, SigningKeySource::File { dir: &dir, passphrase: &passphrase })?
                }
            };
            tracing::info!(
                token = provider.token_label(),
                kek_version = provider.current_kek_version(),
                "keys in the PKCS#11 token"
            );
            Ok(Arc::new(provider))
        }
    }
}

fn token_settings<'a>(config: &'a Config, pin: &'a Pin) -> anyhow::Result<TokenSettings<'a>> {
    // `Config::load` checked that both are set for provider = "pkcs11".
    let (Some(module), Some(token_label)) = (&config.keys.module, &config.keys.token_label) else {
        bail!("[keys] provider = \"pkcs11\" needs module and token_label");
    };
    Ok(TokenSettings { module, token_label, pin, sessions: config.keys.sessions })
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn key_passphrase() -> anyhow::Result<Passphrase> {
    let value =
        std::env::var("TRESOR_KEY_PASSPHRASE").context("TRESOR_KEY_PASSPHRASE is not set: it unlocks the key files")?;
    if value.chars().count() < 12 {
        bail!("TRESOR_KEY_PASSPHRASE is too short: use at least 12 characters");
    }
    Ok(Passphrase::new(value))
}

/// The TLS listener of `serve --dev` unless `--tls-listen` says otherwise.
const DEV_TLS_LISTEN: &str = "127.0.0.1:8443";

/// The dev staff provider's name and client (dev mode only).
const DEV_STAFF_ISSUER: &str = "dev-staff";
const DEV_STAFF_CLIENT: &str = "tresor-dev-staff";
/// The dev persona who is a data-protection officer in dev mode.
const DEV_DPO_PERSONA: &str = "anna";

/// Copy the policy folder into `target` and make the dev DPO persona a DPO
/// of the dev staff provider there.
fn dev_policy_copy(source: &std::path::Path, target: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    copy_dir(source, target).with_context(|| format!("copying {} for dev mode", source.display()))?;
    let subject = tresor::identity::dev_idp::subject_of(DEV_DPO_PERSONA).context("the dev DPO persona")?;
    let staff = target.join("staff.toml");
    // An empty inline list (`dpo = []`) and a `[[dpo]]` table cannot both stand.
    let mut text: String = std::fs::read_to_string(&staff)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.replace(' ', "") != "dpo=[]")
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(&format!(
        "\n# Added by `tresor serve --dev` (this copy only): persona {DEV_DPO_PERSONA} at the dev staff provider.\n\
         [[dpo]]\nissuer = \"{DEV_STAFF_ISSUER}\"\nsubject = \"{subject}\"\n"
    ));
    std::fs::write(&staff, text).with_context(|| format!("writing {}", staff.display()))?;
    Ok(target.to_owned())
}

fn copy_dir(source: &std::path::Path, target: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(target)?;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let to = target.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), to)?;
        }
    }
    Ok(())
}

async fn serve(mut config: Config, dev: bool, tls_listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let rng: Arc<dyn SecureRandom + Send + Sync> = Arc::new(SystemRandom::new());
    let mut dev_data_dir = None;
    if dev {
        if !config.listen.ip().is_loopback() {
            bail!(
                "--dev refuses to listen on {}: dev mode has test logins and must stay on a loopback address",
                config.listen
            );
        }
        let dir = std::env::temp_dir().join(format!("tresor-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        config.database_url =
            Some(tresor::config::SecretString::new(format!("sqlite://{}", dir.join("tresor.sqlite").display())));
        config.erasure_list = Some(dir.join("erased-citizens"));
        dev_data_dir = Some(dir);
        // HSTS on a loopback dev certificate would pin the browser to it.
        config.hsts_max_age_seconds = 0;
        // The city's pages with example details (marked as examples) unless
        // the configuration names a city.
        if config.city == tresor::config::CityConfig::default() {
            config.city = tresor::config::CityConfig::dev_example();
        }
    }
    let policies = Arc::new(Policies::load(&config.policy_dir)?);
    // Dev mode: TLS with a throwaway PKI; the policy's SPKI pins cannot fit
    // its keys, so dev department authentication ignores them.
    let mut dev_pki = None;
    if let Some(dir) = &dev_data_dir {
        let listen = match tls_listen {
            Some(listen) => listen,
            None => DEV_TLS_LISTEN.parse().context("the dev TLS address")?,
        };
        if !listen.ip().is_loopback() {
            bail!("--dev refuses to serve TLS on {listen}: dev mode must stay on a loopback address");
        }
        let mut server_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        if !server_names.contains(&listen.ip().to_string()) {
            server_names.push(listen.ip().to_string());
        }
        let pki = tresor::identity::dev_pki::generate(
            &dir.join("tls"),
            &policies.departments.without_pins(),
            &server_names,
            chrono::Utc::now(),
        )?;
        config.tls = Some(pki.tls_config(listen));
        config.departments = Some(pki.department_config());
        dev_pki = Some(pki);
    }
    // Dev mode: a staff login through a second built-in provider, with the
    // persona anna as the data-protection officer (in a copy of the policies
    // inside the throwaway directory; the real staff.toml is not touched).
    let mut dev_staff_secret = None;
    if let Some(dir) = &dev_data_dir
        && config.staff_issuer.is_none()
    {
        let secret = tresor::http::session::random_token(rng.as_ref())
            .map_err(|e| anyhow::anyhow!("random number generator failed ({})", e.code))?;
        config.policy_dir = dev_policy_copy(&config.policy_dir, &dir.join("policies"))?;
        config.staff_issuer = Some(tresor::config::IssuerConfig {
            name: DEV_STAFF_ISSUER.to_owned(),
            label: None,
            issuer_url: format!("{}/dev-idp-staff", config.public_base_url()),
            client_id: DEV_STAFF_CLIENT.to_owned(),
            client_secret: Some(tresor::config::SecretString::new(secret.clone())),
            client_secret_env: None,
            min_level: "low".to_owned(),
            scopes: Vec::new(),
        });
        dev_staff_secret = Some(secret);
    }
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    store.migrate().await.context("applying migrations")?;
    let keys: Arc<dyn KeyProvider> =
        if dev { Arc::new(FileKeyProvider::ephemeral(rng.as_ref())?) } else { open_keys(&config)? };
    let base = config.public_base_url();
    let mut issuers = Vec::new();
    let mut dev_idp = None;
    let mut dev_staff_idp = None;
    if dev {
        let secret = tresor::http::session::random_token(rng.as_ref())
            .map_err(|e| anyhow::anyhow!("random number generator failed ({})", e.code))?;
        let issuer_url = format!("{base}/dev-idp");
        let idp = DevIdp::new(
            issuer_url.clone(),
            "tresor-dev".into(),
            secret.clone(),
            format!("{base}/auth/callback"),
            rng.as_ref(),
        )?;
        dev_idp = Some(Arc::new(idp));
        if let Some(staff_secret) = dev_staff_secret {
            dev_staff_idp = Some(Arc::new(DevIdp::new(
                format!("{base}/dev-idp-staff"),
                DEV_STAFF_CLIENT.into(),
                staff_secret,
                format!("{base}/staff/callback"),
                rng.as_ref(),
            )?));
        }
        issuers.push((
            server::issuer_settings(
                &config,
                "dev",
                &issuer_url,
                "tresor-dev",
                Some(secret),
                LoginLevel::Low,
                vec!["openid".into()],
            ),
            "Test-Login (Entwicklung) / test login (development)".to_owned(),
        ));
    }
    for issuer in &config.issuers {
        let secret = Config::client_secret(issuer)?.map(|s| s.expose().to_owned());
        let level = LoginLevel::from_acr(&issuer.min_level).unwrap_or(LoginLevel::High);
        let label =
            issuer.label.clone().unwrap_or_else(|| "Mit Online-Ausweis anmelden / Log in with online ID".into());
        issuers.push((
            server::issuer_settings(
                &config,
                &issuer.name,
                &issuer.issuer_url,
                &issuer.client_id,
                secret,
                level,
                issuer.scopes.clone(),
            ),
            label,
        ));
    }
    if issuers.is_empty() {
        bail!("no identity provider configured: add an [[issuers]] section, or use --dev");
    }
    let http_client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    // A broken staff setup (secret, staff.toml) stops start-up here rather
    // than silently disabling the DPO pages.
    server::staff_login(&config, keys.pepper(), http_client.clone())?;
    let department_auth = match (&dev_pki, &config.departments) {
        (Some(_), Some(section)) => Some(Arc::new(tresor::http::dept_auth::DepartmentAuth::from_config(
            section,
            &policies.departments.without_pins(),
        )?)),
        _ => server::department_auth(&config, &policies)?,
    };
    let tls_acceptor = match &config.tls {
        Some(tls) => {
            if department_auth.is_none() {
                tracing::warn!(
                    "[tls] without [departments]: the TLS listener requests no client certificates, \
                     and the department API refuses every caller"
                );
            }
            Some(tresor::http::tls::acceptor(tls, department_auth.as_deref())?)
        }
        None => None,
    };
    let (router, state) = server::build(Parts {
        config: config.clone(),
        store,
        keys,
        policies,
        clock: Arc::new(SystemClock),
        rng,
        issuers,
        dev_idp,
        dev_staff_idp,
        http_client,
        department_auth,
    });
    // The policies in force and the keys opened are part of the record.
    for (action, reason) in [
        (Action::PolicyLoad, format!("evidence_types_{}", state.vault.policies().evidence_types.iter().count())),
        (Action::KeyOperation, format!("keys_opened_kek_v{}", state.vault.keys().current_kek_version())),
    ] {
        let event = AuditEvent {
            actor: Actor::System,
            action,
            targets: Targets::default(),
            outcome: Outcome::Success,
            reason: Some(reason),
        };
        state.vault.audit().record(event).await.context("the audit log is not writable; refusing to start")?;
    }
    // A restored database (tresor restore, pg_restore, a copied file) loses
    // the citizens who erased their account after its backup again.
    let erased = state.vault.apply_erasure_list().await.context("refusing to start")?;
    if erased > 0 {
        tracing::warn!(erased, "deleted citizens on the erasure list that the database still held (a restored backup)");
    }
    let sweeper = server::spawn_sweeper(state.clone());
    let checkpointer = server::spawn_checkpointer(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    // Metrics on a listener of their own, never the public one.
    let metrics_listener = match config.metrics_listen {
        Some(address) => Some({
            if !address.ip().is_loopback() {
                tracing::warn!(%address, "metrics_listen is not a loopback address: the metrics have no authentication");
            }
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (metrics_listen)"))?
        }),
        None => None,
    };
    let tls = match (&config.tls, tls_acceptor) {
        (Some(tls), Some(acceptor)) => {
            let listener = tokio::net::TcpListener::bind(tls.listen)
                .await
                .with_context(|| format!("cannot listen on {} (tls.listen)", tls.listen))?;
            Some((listener, acceptor, tls.listen))
        }
        _ => None,
    };
    if dev {
        eprintln!(
            "tresor dev mode: open {base}/ — test personas anna (high), ben (substantial), clara (low); data and keys are thrown away on exit."
        );
        if config.staff_issuer.as_ref().is_some_and(|issuer| issuer.name == DEV_STAFF_ISSUER) {
            eprintln!(
                "tresor dev mode: data-protection officer pages at {base}/staff/login (persona {DEV_DPO_PERSONA} is the DPO)."
            );
        }
    }
    if let Some(pki) = &dev_pki {
        print_dev_tls_banner(pki, state.vault.policies(), config.tls.as_ref().map(|tls| tls.listen));
    }
    // Connections are file descriptors: raise the soft limit where allowed
    // and keep both listeners' caps within it.
    let mut connection_limits = tresor::http::listener::ConnectionLimits::from_config(&config);
    if let Some(descriptors) = tresor::http::listener::raise_descriptor_limit() {
        let listeners = if tls.is_some() { 2 } else { 1 };
        if let Some(lowered) = connection_limits.fit_descriptors(descriptors, listeners) {
            tracing::warn!(
                configured = config.limits.max_connections,
                lowered,
                descriptors,
                "limits.max_connections lowered to fit the open-file limit (raise LimitNOFILE to allow more)"
            );
        }
    }
    // One signal stops both listeners.
    let shutdown = futures_util::FutureExt::shared(Box::pin(shutdown_signal()));
    tracing::info!(listen = %config.listen, "tresor is serving");
    let plain =
        tresor::http::listener::serve(listener, None, router.clone(), connection_limits.clone(), shutdown.clone());
    let tls = async {
        if let Some((listener, acceptor, address)) = tls {
            tracing::info!(listen = %address, "tresor is serving (TLS)");
            tresor::http::listener::serve(listener, Some(acceptor), router, connection_limits, shutdown.clone()).await;
        }
    };
    let metrics = async {
        if let Some(listener) = metrics_listener {
            tracing::info!(listen = %config.metrics_listen.unwrap_or(config.listen), "metrics at /metrics");
            let shutdown = shutdown.clone();
            if let Err(error) = tresor::http::health::serve_metrics(listener, state.clone(), shutdown).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        }
    };
    tokio::join!(plain, tls, metrics);
    sweeper.abort();
    checkpointer.abort();
    // Commit what is queued and sign a last checkpoint.
    state.vault.audit().shutdown().await;
    if let Some(dir) = dev_data_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Where dev mode's TLS files are, and a request to try.
fn print_dev_tls_banner(pki: &tresor::identity::dev_pki::DevPki, policies: &Policies, listen: Option<SocketAddr>) {
    let Some(listen) = listen else { return };
    eprintln!("tresor dev mode: TLS on https://{listen}/ with a throwaway PKI in {}", pki.dir.display());
    eprintln!("  server CA (for --cacert): {}", pki.server_ca_file.display());
    eprintln!("  department CA:            {}", pki.department_ca_file.display());
    for issued in &pki.departments {
        eprintln!(
            "  {}: {} + {}  ({})",
            issued.department,
            issued.certificate_file.display(),
            issued.key_file.display(),
            issued.subject
        );
    }
    for (department, reason) in &pki.skipped {
        eprintln!("  {department}: no dev certificate: {reason}");
    }
    let pinned: Vec<&str> = policies
        .departments
        .iter()
        .filter(|department| !department.spki_sha256.is_empty())
        .map(|department| department.id.as_str())
        .collect();
    if !pinned.is_empty() {
        eprintln!(
            "  dev mode ignores the policy's SPKI pins ({}): the dev certificates have keys of their own",
            pinned.join(", ")
        );
    }
    if let Some(example) = pki.departments.first() {
        eprintln!(
            "  try: curl --cacert {} --cert {} --key {} https://{listen}/api/v1/dept/whoami",
            pki.server_ca_file.display(),
            example.certificate_file.display(),
            example.key_file.display()
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

// --- tresor audit -----------------------------------------------------------

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the Merkle tree from the stored entries and check it against
    /// every signed checkpoint. Exits 1 naming the first bad index.
    Verify {
        /// A signed checkpoint saved earlier (outside the database): the log
        /// must still contain it as a prefix.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The checkpoint signing key: base64 as in signing-key.pub, or a note
        /// verifier key (<name>+<id>+<key>). Default: <key_dir>/signing-key.pub.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// A witness's verifier key (<name>+<id>+<key>, type 0x04): a stored
        /// checkpoint must carry its valid cosignature. Repeat for several.
        #[arg(long = "witness-key", value_name = "KEY")]
        witness_keys: Vec<String>,
        /// Ask this witness (its URL) for the newest checkpoint it cosigned
        /// for this log; it must carry a cosignature by a --witness-key and
        /// the log must still contain it (a rolled-back log does not).
        #[arg(long, value_name = "URL", requires = "witness_keys", conflicts_with = "checkpoint")]
        witness_url: Option<String>,
    },
    /// Export the entries of a time range as CSV or JSON lines.
    Export {
        /// Start, included: an RFC 3339 time, or YYYY-MM-DD (00:00 UTC).
        #[arg(long, value_name = "DATE", value_parser = parse_export_from)]
        from: chrono::DateTime<chrono::Utc>,
        /// End: an RFC 3339 time (excluded), or YYYY-MM-DD (that whole day,
        /// UTC, included).
        #[arg(long, value_name = "DATE", value_parser = parse_export_to)]
        to: chrono::DateTime<chrono::Utc>,
        #[arg(long, value_enum)]
        format: ExportFormatArgument,
        /// Write here (a new file, never overwritten) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormatArgument {
    Csv,
    Jsonl,
}

async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    // Read-only: no migration, the database is inspected as it is.
    let store = open_store(config).await?;
    match command {
        AuditCommand::Verify { checkpoint, public_key, witness_keys, witness_url } => {
            let key_path = public_key.unwrap_or_else(|| config.key_dir().join("signing-key.pub"));
            let public_key = read_audit_public_key(&key_path)?;
            let witnesses = witness_keys
                .iter()
                .map(|key| {
                    tresor::audit::cosignature::CosignerKey::parse(key)
                        .map_err(|error| anyhow::anyhow!("--witness-key {key:?}: {error}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let saved = match (&checkpoint, &witness_url) {
                (Some(path), _) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading the saved checkpoint {}", path.display()))?,
                ),
                (None, Some(url)) => Some(witness_checkpoint(store.as_ref(), url, &witnesses).await?),
                (None, None) => None,
            };
            audit_verify(store.as_ref(), &public_key, saved.as_deref()).await?;
            if witness_url.is_some() {
                println!("OK: the log contains the newest checkpoint the witness cosigned");
            }
            for witness in &witnesses {
                match tresor::audit::verify::newest_cosigned(store.as_ref(), witness).await? {
                    Some((size, time)) => {
                        println!("OK: witness {} cosigned the checkpoint at size {size} (time {time})", witness.name)
                    }
                    None => bail!(
                        "audit log verification FAILED: no stored checkpoint is cosigned by witness {}",
                        witness.name
                    ),
                }
            }
            Ok(())
        }
        AuditCommand::Export { from, to, format, out } => {
            if from >= to {
                bail!("--from ({from}) must be before --to ({to})");
            }
            let filter = tresor::store::AuditFilter { from: Some(from), until: Some(to), ..Default::default() };
            let format = match format {
                ExportFormatArgument::Csv => tresor::audit::verify::ExportFormat::Csv,
                ExportFormatArgument::Jsonl => tresor::audit::verify::ExportFormat::JsonLines,
            };
            let written = match &out {
                Some(path) => {
                    let file = create_export_file(path)?;
                    let mut writer = std::io::BufWriter::new(file);
                    let written = tresor::audit::verify::export(store.as_ref(), &filter, format, &mut writer).await?;
                    writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
                    written
                }
                None => {
                    let mut writer = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
                    tresor::audit::verify::export(store.as_ref(), &filter, format, &mut writer).await?
                }
            };
            eprintln!("exported {written} entries");
            Ok(())
        }
    }
}

/// The newest checkpoint the witness at `url` cosigned for this log (the
/// origin of the newest stored checkpoint), checked to carry a valid
/// cosignature by one of `witnesses`.
async fn witness_checkpoint(
    store: &dyn tresor::store::Store,
    url: &str,
    witnesses: &[tresor::audit::cosignature::CosignerKey],
) -> anyhow::Result<String> {
    let Some((_, note)) = store.latest_checkpoint().await? else {
        bail!("the log has no checkpoint yet: there is nothing a witness could have cosigned");
    };
    let origin = note.split('\n').next().unwrap_or_default();
    let address = format!("{}/{}/checkpoint", url.trim_end_matches('/'), tresor::witness::origin_hash_hex(origin));
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?
        .get(&address)
        .send()
        .await
        .with_context(|| format!("asking the witness at {address}"))?;
    match response.status().as_u16() {
        200 => {}
        404 => bail!("the witness at {url} has not cosigned any checkpoint of {origin}"),
        status => bail!("the witness at {address} answered {status}"),
    }
    let witnessed = response.text().await.context("reading the witness's answer")?;
    let cosigned = witnesses
        .iter()
        .find_map(|witness| tresor::audit::cosignature::verify_cosignature(&witnessed, witness).ok().map(|_| witness));
    let Some(witness) = cosigned else {
        bail!("the checkpoint from {url} carries no valid cosignature by a --witness-key");
    };
    eprintln!(
        "the witness {} has cosigned this log up to the checkpoint it sent; checking the log contains it",
        witness.name
    );
    Ok(witnessed)
}

async fn audit_verify(
    store: &dyn tresor::store::Store,
    public_key: &[u8; 32],
    saved: Option<&str>,
) -> anyhow::Result<()> {
    // About every 2 %: a million entries print 50 lines, not a million.
    let mut next_report = 0u64;
    let mut report_progress = |done: u64, total: u64| {
        if total > 0 && (done >= next_report || done == total) {
            eprintln!("verified {done} / {total} entries");
            next_report = done.saturating_add((total / 50).max(1));
        }
    };
    let report = tresor::audit::verify::verify_log(store, public_key, saved, &mut report_progress)
        .await
        .map_err(|error| anyhow::anyhow!("audit log verification FAILED: {error}"))?;
    match report.latest_checkpoint_size {
        None if report.entries > 0 => eprintln!(
            "warning: no signed checkpoint: the entries are consistent with each other, but no signature vouches for them"
        ),
        Some(size) if size < report.entries => {
            eprintln!("note: {} entries after the latest checkpoint ({size}) are not signed yet", report.entries - size)
        }
        _ => {}
    }
    if report.pruned_bodies > 0 {
        eprintln!("note: {} entries have pruned bodies; their leaf hashes were verified", report.pruned_bodies);
    }
    if saved.is_some() {
        eprintln!("the saved checkpoint is a prefix of this log");
    }
    println!(
        "OK: {} entries, {} checkpoints, root {}",
        report.entries,
        report.checkpoints_verified,
        hex::encode(report.root)
    );
    Ok(())
}

/// The signing public key: base64 of the 32 bytes (signing-key.pub), or a
/// note verifier key "<name>+<key id>+<base64(0x01 || key)>".
fn read_audit_public_key(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    use base64::Engine;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the public key {}", path.display()))?;
    let text = text.trim();
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    match tresor::audit::checkpoint::parse_verifier_key(text) {
        Ok((_, key)) => Ok(key),
        Err(error) => bail!(
            "{} is neither a base64 Ed25519 public key (as in signing-key.pub) nor a verifier key: {error}",
            path.display()
        ),
    }
}

fn create_export_file(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Entries name citizens (by id) and departments: readable by the owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {} (an existing file is never overwritten)", path.display()))
}

fn parse_export_from(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    parse_export_time(value, false)
}

fn parse_export_to(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    parse_export_time(value, true)
}

/// RFC 3339, or a plain date meaning 00:00 UTC of that day (of the next day
/// for an end, so that `--to 2024-05-31` includes the 31st).
fn parse_export_time(value: &str, is_end: bool) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| format!("{value:?} is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a date (2024-05-01)"))?;
    let day = if is_end { date.succ_opt().ok_or_else(|| format!("{value:?} is out of range"))? } else { date };
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}
