//! The `tresor` command line: serve, migrate, keys init, policy check.

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
use tresor::crypto::{FileKeyProvider, KdfParams, KeyProvider, Passphrase};
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
        /// Development mode: throwaway SQLite and keys, built-in test identity provider.
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
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the KEK, signing key and identifier pepper, sealed with TRESOR_KEY_PASSPHRASE.
    Init,
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
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { listen, dev } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            init_logging(config.log_json);
            serve(config, dev).await
        }
        Command::Migrate => {
            let store = tresor::store::open(&config.database_url()).await?;
            store.migrate().await.context("applying migrations")?;
            println!("Migrations applied.");
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
        Command::Policy { command: PolicyCommand::Check { dir } } => {
            let dir = dir.unwrap_or_else(|| config.policy_dir.clone());
            let policies = Policies::load(&dir)?;
            let staff = tresor::identity::staff::StaffPolicy::load(&dir)?;
            println!(
                "{}: {} evidence types and the staff policy ({} DPOs), all valid.",
                dir.display(),
                policies.evidence_types.iter().count(),
                staff.len()
            );
            Ok(())
        }
    }
}

fn key_passphrase() -> anyhow::Result<Passphrase> {
    let value =
        std::env::var("TRESOR_KEY_PASSPHRASE").context("TRESOR_KEY_PASSPHRASE is not set: it unlocks the key files")?;
    if value.chars().count() < 12 {
        bail!("TRESOR_KEY_PASSPHRASE is too short: use at least 12 characters");
    }
    Ok(Passphrase::new(value))
}

async fn serve(mut config: Config, dev: bool) -> anyhow::Result<()> {
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
        dev_data_dir = Some(dir);
    }
    let config = Arc::new(config);
    let policies = Arc::new(Policies::load(&config.policy_dir)?);
    let store = tresor::store::open(&config.database_url()).await.context("opening the database")?;
    store.migrate().await.context("applying migrations")?;
    let keys: Arc<dyn KeyProvider> = if dev {
        Arc::new(FileKeyProvider::ephemeral(rng.as_ref())?)
    } else {
        Arc::new(FileKeyProvider::open(&config.key_dir(), &key_passphrase()?)?)
    };
    let base = config.public_base_url();
    let mut issuers = Vec::new();
    let mut dev_idp = None;
    if dev {
        let secret = tresor::http::session::random_token(rng.as_ref()).map_err(|e| anyhow::anyhow!(e.message))?;
        let issuer_url = format!("{base}/dev-idp");
        let idp = DevIdp::new(
            issuer_url.clone(),
            "tresor-dev".into(),
            secret.clone(),
            format!("{base}/auth/callback"),
            rng.as_ref(),
        )?;
        dev_idp = Some(Arc::new(idp));
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
    let (router, state) = server::build(Parts {
        config: config.clone(),
        store,
        keys,
        policies,
        clock: Arc::new(SystemClock),
        rng,
        issuers,
        dev_idp,
        http_client,
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
    let sweeper = server::spawn_sweeper(state.clone());
    let checkpointer = server::spawn_checkpointer(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    if dev {
        eprintln!(
            "tresor dev mode: open {base}/ — test personas anna (high), ben (substantial), clara (low); data and keys are thrown away on exit."
        );
    }
    tracing::info!(listen = %config.listen, "tresor is serving");
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    sweeper.abort();
    checkpointer.abort();
    // Commit what is queued and sign a last checkpoint.
    state.vault.audit().shutdown().await;
    if let Some(dir) = dev_data_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
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
