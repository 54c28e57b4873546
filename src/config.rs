//! Typed configuration: an optional TOML file, overridden by `TRESOR_*`
//! environment variables (nested keys with `__`, e.g.
//! `TRESOR_ISSUERS__0__CLIENT_SECRET` is not supported; use
//! `client_secret_env` to name the variable holding an issuer's secret).
//! A bad value stops start-up with a message naming the key. Secrets never
//! appear in `Debug` output.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default upload limit: 25 MiB.
pub const DEFAULT_UPLOAD_LIMIT: u64 = 25 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Figment's message names the key and the source (file or env variable).
    #[error("configuration error: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration error: `{key}`: {problem}")]
    Value { key: String, problem: String },
}

/// A secret string from the configuration. `Debug` prints `[redacted]`;
/// the bytes are zeroized on drop.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretString(Zeroizing<String>);

/// Serialised (for the configuration reference) as `[redacted]`, like `Debug`.
impl Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret as text, for handing to the one component that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One OpenID provider citizens (or staff) log in with, e.g. the city's
/// eID-to-OIDC bridge.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IssuerConfig {
    /// Short name used in URLs and in the session (`eid`).
    pub name: String,
    /// Label on the login button.
    #[serde(default)]
    pub label: Option<String>,
    /// The provider's issuer URL (its discovery document is read from
    /// `<issuer_url>/.well-known/openid-configuration`).
    pub issuer_url: String,
    /// tresor's client id at the provider.
    pub client_id: String,
    /// The client secret; prefer `client_secret_env`.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Name of an environment variable holding the client secret (preferred
    /// over writing it into the file).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Minimum login level: low, substantial or high (or an eIDAS LoA URI).
    /// Default: substantial.
    #[serde(default = "default_min_level")]
    pub min_level: String,
    /// Scopes besides `openid`, which is always requested. Default: none.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_min_level() -> String {
    "substantial".to_owned()
}

/// Scopes besides `openid` (which is always requested).
fn default_scopes() -> Vec<String> {
    Vec::new()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Config {
    /// Address of the plain HTTP listener (behind the city's TLS proxy).
    pub listen: SocketAddr,
    /// The URL citizens reach the vault at (redirect URIs are built from it).
    /// Defaults to `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Where the default SQLite database and key directory live.
    pub data_dir: PathBuf,
    /// `sqlite://...` (default: a file in the data directory) or `postgres://...`.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Directory of the sealed key files (default: `{data_dir}/keys`).
    #[serde(default)]
    pub key_dir: Option<PathBuf>,
    /// Where the long-lived keys live: sealed files (default) or a PKCS#11
    /// token (HSM). See `[keys]`.
    #[serde(default)]
    pub keys: KeysConfig,
    /// The erasure list: citizens who erased their account, appended (and
    /// fsync'd) before an erasure is acknowledged and applied at every start
    /// and `tresor restore`, so that an older backup never brings them back.
    /// Back it up with the keys, never with the database. Default:
    /// `{key_dir}/erased-citizens`.
    #[serde(default)]
    pub erasure_list: Option<PathBuf>,
    /// Evidence types, departments, services and staff (`policies/`).
    pub policy_dir: PathBuf,
    /// Largest evidence file a citizen may upload.
    pub upload_limit_bytes: u64,
    /// A citizen's session ends after this long without a request.
    pub session_idle_timeout_seconds: i64,
    /// A citizen's session ends after this long, active or not.
    pub session_absolute_timeout_seconds: i64,
    /// The identity providers citizens log in with (`[[issuers]]`).
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// The city's staff identity provider (data-protection officers log in
    /// here, at `/staff/login`). Same shape as an `[[issuers]]` entry; its
    /// name must differ from every citizen issuer's. None: no staff login.
    #[serde(default)]
    pub staff_issuer: Option<IssuerConfig>,
    /// Write logs as JSON lines (one object per line, with the request id
    /// of the request each line belongs to).
    #[serde(default)]
    pub log_json: bool,
    /// Address of a listener of its own for Prometheus metrics
    /// (`GET /metrics`), e.g. `127.0.0.1:9464`. None: no metrics listener
    /// and no metrics recorded. Keep it on loopback or an internal network.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// What `/readyz` checks and how long it waits.
    #[serde(default)]
    pub health: HealthConfig,
    /// Sign an audit checkpoint every this many entries, or every
    /// `audit_checkpoint_seconds` (whichever comes first), at shutdown, and
    /// on demand when a citizen's proof needs one (at most one per second).
    pub audit_checkpoint_entries: u64,
    /// See `audit_checkpoint_entries`.
    pub audit_checkpoint_seconds: u64,
    /// Name of the audit log in checkpoints (default: the public host + `/audit`).
    #[serde(default)]
    pub audit_origin: Option<String>,
    /// Independent witnesses (C2SP tlog-witness, e.g. `tresor witness serve`
    /// run by the state data-protection authority) that every new checkpoint
    /// is sent to with a consistency proof; they cosign it or refuse a log
    /// that was rolled back or forked. `[[witnesses]] url = "...", key = "..."`.
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
    /// How many of `witnesses` must cosign a checkpoint before citizens'
    /// proofs and release references use it. Default: 1 when witnesses are
    /// configured, else 0 (proofs use the newest signed checkpoint).
    #[serde(default)]
    pub witness_quorum: Option<usize>,
    /// Audit entry bodies older than this are pruned (the tree hashes stay,
    /// so proofs and checkpoints still verify). Default: two years.
    pub audit_retention_days: i64,
    /// How departments authenticate (client certificates). None: the
    /// department API answers 401 to everyone.
    #[serde(default)]
    pub departments: Option<DepartmentAuthConfig>,
    /// tresor's own TLS listener (beside the plain `listen`), where
    /// departments present client certificates. None: plain HTTP only.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// `Strict-Transport-Security: max-age=...` on every response served over
    /// HTTPS (the TLS listener, or every response when `public_url` is
    /// https, i.e. behind a TLS proxy). 0 turns it off; `serve --dev` does.
    pub hsts_max_age_seconds: u64,
    /// Bounds that hold under attack and outage: timeouts, connection caps,
    /// upload memory, store patience, rate limits.
    #[serde(default)]
    pub limits: Limits,
    /// Reverse proxies in front of tresor whose client-address header is
    /// believed (for rate limits by address).
    #[serde(default)]
    pub proxy: ProxyConfig,
    /// The city's own details for the pages a public body must offer
    /// (accessibility statement, privacy notice, imprint, contact, sign
    /// language): names, addresses and links, no code needed.
    #[serde(default)]
    pub city: CityConfig,
}

/// Which key provider holds the KEKs, the pepper and the signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProviderKind {
    /// Files in `key_dir`, sealed with `TRESOR_KEY_PASSPHRASE` (Argon2id).
    File,
    /// Non-extractable keys in a PKCS#11 token.
    Pkcs11,
}

/// Where a PKCS#11 installation keeps its Ed25519 signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKeyPlace {
    /// In the token (CKM_EDDSA).
    Token,
    /// Sealed in `key_dir` with `TRESOR_KEY_PASSPHRASE`, for tokens without EdDSA.
    File,
}

/// `[keys]`: the key provider. With `provider = "pkcs11"`, `module` and
/// `token_label` are required and the PIN comes from the environment
/// variable `pin_env`, never from this file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// `file` (sealed key files in `key_dir`) or `pkcs11` (a token: HSM or SoftHSM2).
    pub provider: KeyProviderKind,
    /// pkcs11: the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: Option<PathBuf>,
    /// pkcs11: the label of the token that holds the keys.
    pub token_label: Option<String>,
    /// pkcs11: the environment variable holding the token's user PIN.
    pub pin_env: String,
    /// pkcs11: `token` (Ed25519 in the token) or `file` (sealed in `key_dir`, for tokens without EdDSA).
    pub signing_key: SigningKeyPlace,
    /// pkcs11: sessions kept open to the token (1–64).
    pub sessions: usize,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            provider: KeyProviderKind::File,
            module: None,
            token_label: None,
            pin_env: "TRESOR_PKCS11_PIN".to_owned(),
            signing_key: SigningKeyPlace::Token,
            sessions: crate::crypto::DEFAULT_SESSIONS,
        }
    }
}

impl KeysConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let value_error =
            |key: &str, problem: &str| ConfigError::Value { key: format!("keys.{key}"), problem: problem.to_owned() };
        if self.provider != KeyProviderKind::Pkcs11 {
            return Ok(());
        }
        if self.module.as_ref().is_none_or(|module| module.as_os_str().is_empty()) {
            return Err(value_error("module", "provider = \"pkcs11\" needs the path of the PKCS#11 module"));
        }
        match &self.token_label {
            None => return Err(value_error("token_label", "provider = \"pkcs11\" needs the token's label")),
            Some(label) if label.is_empty() || label.len() > 32 => {
                return Err(value_error("token_label", "a token label has 1 to 32 bytes"));
            }
            Some(_) => {}
        }
        if self.pin_env.is_empty() || !self.pin_env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(value_error("pin_env", "the name of an environment variable (letters, digits, _)"));
        }
        if !(1..=64).contains(&self.sessions) {
            return Err(value_error("sessions", "must be between 1 and 64"));
        }
        Ok(())
    }

    /// The token's PIN from the environment variable `pin_env`.
    pub fn pin(&self) -> Result<SecretString, ConfigError> {
        match std::env::var(&self.pin_env) {
            Ok(pin) if !pin.is_empty() => Ok(SecretString::new(pin)),
            _ => Err(ConfigError::Value {
                key: "keys.pin_env".to_owned(),
                problem: format!("environment variable {} is not set: it holds the token's PIN", self.pin_env),
            }),
        }
    }
}

/// `[limits]`: every key has a default (see `Limits::default`), so a partial
/// section is fine. Per listener where it says connection.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections per listener; more wait in the kernel's backlog.
    /// Lowered at start to what the file-descriptor limit allows.
    pub max_connections: usize,
    /// Open connections per client address and listener (trusted proxies
    /// excepted); more are closed at once.
    pub max_connections_per_address: usize,
    /// A request's header must arrive within this time (slowloris).
    pub header_read_timeout_seconds: u64,
    /// A connection with no request in flight is closed after this time.
    pub idle_timeout_seconds: u64,
    /// A whole request (uploads excepted) must be answered within this time.
    pub request_timeout_seconds: u64,
    /// A request body that sends nothing for this long is dropped (a stalled
    /// upload frees its memory).
    pub body_idle_timeout_seconds: u64,
    /// A whole upload must arrive within this time.
    pub upload_timeout_seconds: u64,
    /// Memory for uploads in flight, all uploads together.
    pub upload_memory_bytes: u64,
    /// Uploads in flight per citizen.
    pub uploads_per_citizen: usize,
    /// How long an upload waits for room in `upload_memory_bytes` before it
    /// is answered 503 with `Retry-After`.
    pub upload_wait_milliseconds: u64,
    /// How long a request waits for the database (a pool connection, a
    /// locked SQLite file) before it is answered 503 `store_unavailable`.
    pub store_timeout_seconds: u64,
    /// Login starts (`/login`, `/staff/login`) per client address and minute.
    pub login_starts_per_minute: u32,
    /// Live sessions per citizen; a new login ends the oldest beyond this.
    pub sessions_per_citizen: u32,
    /// Department API calls per client certificate and second (burst: the
    /// same number).
    pub department_calls_per_second: u32,
    /// Refused department calls per client certificate and minute; past it,
    /// that certificate gets 429 until the window allows again.
    pub department_refusals_per_minute: u32,
    /// Unauthenticated public API calls (checkpoint, consistency, keys) per
    /// client address and minute.
    pub public_calls_per_minute: u32,
    /// Accessibility feedback messages (the form on `/accessibility`) per
    /// client address and hour.
    pub feedback_messages_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_address: 256,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            request_timeout_seconds: 60,
            body_idle_timeout_seconds: 20,
            upload_timeout_seconds: 900,
            upload_memory_bytes: 256 * 1024 * 1024,
            uploads_per_citizen: 2,
            upload_wait_milliseconds: 2000,
            store_timeout_seconds: 3,
            login_starts_per_minute: 30,
            sessions_per_citizen: 10,
            department_calls_per_second: 50,
            department_refusals_per_minute: 30,
            public_calls_per_minute: 120,
            feedback_messages_per_hour: 5,
        }
    }
}

impl Limits {
    fn check(&self) -> Result<(), ConfigError> {
        let counts: [(&str, u64); 13] = [
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_address", self.max_connections_per_address as u64),
            ("header_read_timeout_seconds", self.header_read_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("request_timeout_seconds", self.request_timeout_seconds),
            ("body_idle_timeout_seconds", self.body_idle_timeout_seconds),
            ("upload_timeout_seconds", self.upload_timeout_seconds),
            ("upload_memory_bytes", self.upload_memory_bytes),
            ("uploads_per_citizen", self.uploads_per_citizen as u64),
            ("store_timeout_seconds", self.store_timeout_seconds),
            ("login_starts_per_minute", u64::from(self.login_starts_per_minute)),
            ("sessions_per_citizen", u64::from(self.sessions_per_citizen)),
            ("department_calls_per_second", u64::from(self.department_calls_per_second)),
        ];
        let more: [(&str, u64); 3] = [
            ("department_refusals_per_minute", u64::from(self.department_refusals_per_minute)),
            ("public_calls_per_minute", u64::from(self.public_calls_per_minute)),
            ("feedback_messages_per_hour", u64::from(self.feedback_messages_per_hour)),
        ];
        for (key, value) in counts.into_iter().chain(more) {
            if value == 0 {
                return Err(ConfigError::Value {
                    key: format!("limits.{key}"),
                    problem: "must be greater than 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// `[health]`: the bounds of the readiness check (`/readyz`). Every key has a
/// default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// How long `/readyz` waits for the database before it answers 503
    /// `store_timeout`.
    pub store_timeout_milliseconds: u64,
    /// `/readyz` answers 503 `checkpoint_too_old` when an audit entry has
    /// waited longer than this for a signed checkpoint (a log that does not
    /// grow needs none). Keep it above `audit_checkpoint_seconds`.
    pub max_checkpoint_age_seconds: u64,
    /// With `[[witnesses]]` and a quorum: `/readyz` answers 503
    /// `witnessed_checkpoint_too_old` when a signed checkpoint has waited
    /// longer than this for its cosignatures.
    pub max_witnessed_checkpoint_age_seconds: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            store_timeout_milliseconds: 2000,
            max_checkpoint_age_seconds: 300,
            max_witnessed_checkpoint_age_seconds: 900,
        }
    }
}

impl HealthConfig {
    fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("store_timeout_milliseconds", self.store_timeout_milliseconds),
            ("max_checkpoint_age_seconds", self.max_checkpoint_age_seconds),
            ("max_witnessed_checkpoint_age_seconds", self.max_witnessed_checkpoint_age_seconds),
        ] {
            if value == 0 {
                return Err(ConfigError::Value {
                    key: format!("health.{key}"),
                    problem: "must be greater than 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// `[city]`: who runs this tresor and how to reach them, shown on the
/// accessibility statement, privacy notice (GDPR Art. 13), imprint, contact
/// and sign-language pages. Every key is optional; a page says plainly where
/// a detail is missing. Values are shown as written (one language), so write
/// them as citizens should read them. `serve --dev` fills in example values
/// marked as examples (`CityConfig::dev_example`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CityConfig {
    /// The city or authority, e.g. "Stadt Musterstadt".
    pub name: String,
    /// The office responsible for tresor (controller under GDPR Art. 4 no. 7),
    /// e.g. "Der Oberbürgermeister, Amt für Digitalisierung".
    pub office: String,
    /// Postal address, one line per entry.
    pub address: Vec<String>,
    /// Telephone number for questions (contact page, imprint).
    pub phone: String,
    /// E-mail address for questions (contact page, imprint).
    pub email: String,
    /// Opening or call hours, e.g. "Mo–Fr 8–16 Uhr".
    pub hours: String,
    /// Who represents the city (imprint), e.g. "Oberbürgermeisterin Erika Muster".
    pub representative: String,
    /// VAT identification number (imprint), if the city has one.
    pub vat_id: String,
    /// Who is responsible for the content (imprint, § 18 MStV).
    pub content_responsible: String,
    /// The data-protection officer: name or office.
    pub dpo_name: String,
    /// The data-protection officer's e-mail address.
    pub dpo_email: String,
    /// The data-protection officer's postal address, one line per entry
    /// (empty: the city's address).
    pub dpo_address: Vec<String>,
    /// The supervisory authority citizens may complain to (GDPR Art. 77),
    /// e.g. the state's data-protection commissioner.
    pub supervisory_authority: String,
    /// The supervisory authority's web address.
    pub supervisory_authority_url: String,
    /// Who runs the servers for the city (a recipient under GDPR Art. 13),
    /// e.g. the municipal IT service provider.
    pub processor: String,
    /// Link to a video in German Sign Language (DGS) that explains tresor.
    pub sign_language_video_url: String,
    /// The conformance of tresor as the city assessed it: `full`, `partial`
    /// or `none` (BITV 2.0 / EN 301 549).
    pub accessibility_conformance: String,
    /// The day the accessibility statement was written or last checked
    /// (`YYYY-MM-DD`).
    pub accessibility_statement_date: String,
    /// The state's enforcement body for accessibility (Schlichtungsstelle or
    /// Durchsetzungsstelle) by name.
    pub enforcement_body: String,
    /// The enforcement body's web address.
    pub enforcement_url: String,
    /// Mark every value as an example on the pages (dev mode sets this).
    pub example: bool,
}

impl CityConfig {
    /// Example values for `serve --dev`, marked as examples on every page.
    pub fn dev_example() -> Self {
        Self {
            name: "Stadt Musterstadt (Beispiel)".into(),
            office: "Amt für Digitalisierung (Beispiel)".into(),
            address: vec!["Rathausplatz 1".into(), "12345 Musterstadt".into()],
            phone: "+49 1234 56789-0".into(),
            email: "tresor@musterstadt.example".into(),
            hours: "Mo–Fr 8–16 Uhr".into(),
            representative: "Oberbürgermeisterin Erika Mustermann (Beispiel)".into(),
            vat_id: String::new(),
            content_responsible: "Max Mustermann, Amt für Digitalisierung (Beispiel)".into(),
            dpo_name: "Datenschutzbeauftragte der Stadt Musterstadt (Beispiel)".into(),
            dpo_email: "datenschutz@musterstadt.example".into(),
            dpo_address: Vec::new(),
            supervisory_authority: "Landesbeauftragte für Datenschutz (Beispiel)".into(),
            supervisory_authority_url: "https://datenschutz.example".into(),
            processor: "Kommunales Rechenzentrum Musterland (Beispiel)".into(),
            sign_language_video_url: "https://video.musterstadt.example/tresor-dgs".into(),
            accessibility_conformance: "partial".into(),
            accessibility_statement_date: "2026-12-01".into(),
            enforcement_body: "Schlichtungsstelle nach dem Behindertengleichstellungsgesetz".into(),
            enforcement_url: "https://www.schlichtungsstelle-bgg.de".into(),
            example: true,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let value_error =
            |key: &str, problem: &str| ConfigError::Value { key: format!("city.{key}"), problem: problem.to_owned() };
        for (key, url) in [
            ("supervisory_authority_url", &self.supervisory_authority_url),
            ("sign_language_video_url", &self.sign_language_video_url),
            ("enforcement_url", &self.enforcement_url),
        ] {
            if !url.is_empty() && !url::Url::parse(url).is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https"))
            {
                return Err(value_error(key, "must be an http:// or https:// address"));
            }
        }
        if !matches!(self.accessibility_conformance.as_str(), "" | "full" | "partial" | "none") {
            return Err(value_error("accessibility_conformance", "expected full, partial or none"));
        }
        if !self.accessibility_statement_date.is_empty()
            && chrono::NaiveDate::parse_from_str(&self.accessibility_statement_date, "%Y-%m-%d").is_err()
        {
            return Err(value_error("accessibility_statement_date", "expected a date as YYYY-MM-DD"));
        }
        let mut texts: Vec<(&str, &String)> = vec![
            ("name", &self.name),
            ("office", &self.office),
            ("phone", &self.phone),
            ("email", &self.email),
            ("hours", &self.hours),
            ("representative", &self.representative),
            ("vat_id", &self.vat_id),
            ("content_responsible", &self.content_responsible),
            ("dpo_name", &self.dpo_name),
            ("dpo_email", &self.dpo_email),
            ("supervisory_authority", &self.supervisory_authority),
            ("processor", &self.processor),
            ("enforcement_body", &self.enforcement_body),
        ];
        texts.extend(self.address.iter().map(|line| ("address", line)));
        texts.extend(self.dpo_address.iter().map(|line| ("dpo_address", line)));
        for (key, text) in texts {
            if crate::text::has_refused_char(text) {
                return Err(value_error(key, "contains a control or invisible character"));
            }
        }
        Ok(())
    }
}

/// `[proxy]`: reverse proxies (nginx) in front of tresor. The client address
/// for rate limits is taken from `client_address_header` only when the
/// connection comes from one of `trusted` (the right-most address in the
/// header that is not itself a trusted proxy); otherwise it is the peer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Proxy addresses (single IPs or CIDR ranges). Empty: no proxy.
    #[serde(default)]
    pub trusted: Vec<String>,
    /// The header holding the client address; nginx:
    /// `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`
    #[serde(default = "default_client_address_header")]
    pub client_address_header: String,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self { trusted: Vec::new(), client_address_header: default_client_address_header() }
    }
}

fn default_client_address_header() -> String {
    "x-forwarded-for".to_owned()
}

/// The TLS listener: address, server certificate chain and key. Client
/// certificates are requested (optional at the handshake) when
/// `[departments]` is configured too.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TlsConfig {
    /// Address of the TLS listener.
    pub listen: SocketAddr,
    /// PEM: the server certificate first, then any intermediates.
    pub certificate_file: PathBuf,
    /// PEM: the server certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key_file: PathBuf,
}

/// Department client certificates: the CA bundle they chain to, CRLs, and
/// which reverse proxies may forward a certificate they verified.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DepartmentAuthConfig {
    /// PEM bundle of the CA certificates department certificates chain to.
    pub ca_file: PathBuf,
    /// CRLs (PEM or DER) checked across the chain.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// Proxy addresses (single IPs or CIDR ranges) whose forwarded
    /// certificate header is believed. Empty: no proxy is trusted.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy puts the URL-encoded PEM chain in
    /// (nginx: `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;`).
    /// Default: x-ssl-client-cert.
    #[serde(default = "default_certificate_header")]
    pub certificate_header: String,
}

/// One witness the checkpointer asks for cosignatures.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WitnessConfig {
    /// The witness's submission prefix: tresor posts to `<url>/add-checkpoint`.
    pub url: String,
    /// Its cosigner verifier key, `<name>+<key id>+<base64(0x04 || key)>`
    /// (printed by `tresor witness keygen`).
    pub key: String,
}

/// The forwarded-certificate header when `[departments]` names none.
pub fn default_certificate_header() -> String {
    "x-ssl-client-cert".to_owned()
}

#[derive(Serialize)]
struct Defaults {
    listen: &'static str,
    data_dir: &'static str,
    policy_dir: &'static str,
    upload_limit_bytes: u64,
    session_idle_timeout_seconds: i64,
    session_absolute_timeout_seconds: i64,
    audit_checkpoint_entries: u64,
    audit_checkpoint_seconds: u64,
    audit_retention_days: i64,
    hsts_max_age_seconds: u64,
}

impl Config {
    /// Load defaults, then the TOML file (if given), then `TRESOR_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Defaults {
            listen: DEFAULT_LISTEN,
            data_dir: "data",
            policy_dir: "policies",
            upload_limit_bytes: DEFAULT_UPLOAD_LIMIT,
            session_idle_timeout_seconds: 30 * 60,
            session_absolute_timeout_seconds: 12 * 60 * 60,
            audit_checkpoint_entries: 1000,
            audit_checkpoint_seconds: 60,
            audit_retention_days: 730,
            hsts_max_age_seconds: 365 * 24 * 60 * 60,
        }));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // TRESOR_KEY_PASSPHRASE and TRESOR_PKCS11_PIN are secrets for the key
        // provider, not config.
        figment = figment.merge(Env::prefixed("TRESOR_").ignore(&["KEY_PASSPHRASE", "PKCS11_PIN"]));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let value_error =
            |key: &str, problem: &str| ConfigError::Value { key: key.to_owned(), problem: problem.to_owned() };
        if self.upload_limit_bytes == 0 {
            return Err(value_error("upload_limit_bytes", "must be greater than 0"));
        }
        if self.session_idle_timeout_seconds <= 0 {
            return Err(value_error("session_idle_timeout_seconds", "must be greater than 0"));
        }
        if self.session_absolute_timeout_seconds < self.session_idle_timeout_seconds {
            return Err(value_error(
                "session_absolute_timeout_seconds",
                "must not be shorter than session_idle_timeout_seconds",
            ));
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|e| value_error("public_url", &e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(value_error("public_url", "must start with http:// or https://"));
            }
        }
        if self.audit_checkpoint_entries == 0 {
            return Err(value_error("audit_checkpoint_entries", "must be greater than 0"));
        }
        if self.audit_retention_days <= 0 {
            return Err(value_error("audit_retention_days", "must be greater than 0"));
        }
        if self.audit_checkpoint_seconds == 0 {
            return Err(value_error("audit_checkpoint_seconds", "must be greater than 0"));
        }
        if let Some(origin) = &self.audit_origin
            && !crate::audit::checkpoint::is_valid_key_name(origin)
        {
            return Err(value_error("audit_origin", "must be non-empty, without spaces or '+'"));
        }
        let mut witness_names = std::collections::HashSet::new();
        for (index, witness) in self.witnesses.iter().enumerate() {
            let parsed = url::Url::parse(&witness.url)
                .map_err(|error| value_error(&format!("witnesses[{index}].url"), &error.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(value_error(&format!("witnesses[{index}].url"), "must start with http:// or https://"));
            }
            let key = crate::audit::cosignature::CosignerKey::parse(&witness.key)
                .map_err(|error| value_error(&format!("witnesses[{index}].key"), &error.to_string()))?;
            if !witness_names.insert(key.name) {
                return Err(value_error(&format!("witnesses[{index}].key"), "two witnesses with the same name"));
            }
        }
        if self.witness_quorum.is_some_and(|quorum| quorum > self.witnesses.len()) {
            return Err(value_error("witness_quorum", "must not be more than the number of witnesses"));
        }
        self.limits.check()?;
        self.keys.check()?;
        self.city.check()?;
        self.health.check()?;
        for (index, proxy) in self.proxy.trusted.iter().enumerate() {
            if parse_ip_net(proxy).is_none() {
                return Err(value_error(
                    &format!("proxy.trusted[{index}]"),
                    "expected an IP address or a CIDR range such as 10.0.0.0/24",
                ));
            }
        }
        if axum::http::HeaderName::from_bytes(self.proxy.client_address_header.as_bytes()).is_err() {
            return Err(value_error("proxy.client_address_header", "not a valid HTTP header name"));
        }
        if let Some(departments) = &self.departments {
            for (index, proxy) in departments.trusted_proxies.iter().enumerate() {
                if parse_ip_net(proxy).is_none() {
                    return Err(value_error(
                        &format!("departments.trusted_proxies[{index}]"),
                        "expected an IP address or a CIDR range such as 10.0.0.0/24",
                    ));
                }
            }
            if axum::http::HeaderName::from_bytes(departments.certificate_header.as_bytes()).is_err() {
                return Err(value_error("departments.certificate_header", "not a valid HTTP header name"));
            }
        }
        if let Some(tls) = &self.tls {
            let same_port = tls.listen.port() == self.listen.port() && tls.listen.port() != 0;
            let overlapping_ip = tls.listen.ip() == self.listen.ip()
                || tls.listen.ip().is_unspecified()
                || self.listen.ip().is_unspecified();
            if same_port && overlapping_ip {
                return Err(value_error("tls.listen", "must not be the address and port of `listen`"));
            }
            if tls.certificate_file.as_os_str().is_empty() {
                return Err(value_error("tls.certificate_file", "must name a PEM file"));
            }
            if tls.private_key_file.as_os_str().is_empty() {
                return Err(value_error("tls.private_key_file", "must name a PEM file"));
            }
        }
        let mut names = std::collections::HashSet::new();
        let staff = self.staff_issuer.iter().map(|issuer| ("staff_issuer".to_owned(), issuer));
        let citizens = self.issuers.iter().enumerate().map(|(index, issuer)| (format!("issuers[{index}]"), issuer));
        // The staff issuer comes first so that a clash names the citizen issuer.
        for (prefix, issuer) in staff.chain(citizens) {
            let key = |field: &str| format!("{prefix}.{field}");
            if issuer.name.is_empty()
                || !issuer.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(value_error(&key("name"), "use letters, digits, - and _ only"));
            }
            if !names.insert(issuer.name.as_str()) {
                return Err(value_error(&key("name"), "duplicate issuer name"));
            }
            url::Url::parse(&issuer.issuer_url).map_err(|e| value_error(&key("issuer_url"), &e.to_string()))?;
            if crate::policy::LoginLevel::from_acr(&issuer.min_level).is_none() {
                return Err(value_error(&key("min_level"), "expected low, substantial or high"));
            }
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// How many witnesses must cosign a checkpoint (see `witness_quorum`).
    pub fn witness_quorum(&self) -> usize {
        self.witness_quorum.unwrap_or(usize::from(!self.witnesses.is_empty()))
    }

    /// The audit log's origin line (and signing key name) in checkpoints.
    pub fn audit_origin(&self) -> String {
        match &self.audit_origin {
            Some(origin) => origin.clone(),
            None => {
                let base = self.public_base_url();
                let host = base.split_once("://").map(|(_, rest)| rest).unwrap_or(&base);
                format!("{host}/audit")
            }
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("tresor.sqlite").display()),
        }
    }

    pub fn key_dir(&self) -> PathBuf {
        self.key_dir.clone().unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// The erasure list's path (see `erasure_list`).
    pub fn erasure_list_path(&self) -> PathBuf {
        self.erasure_list.clone().unwrap_or_else(|| self.key_dir().join("erased-citizens"))
    }

    /// An issuer's client secret from `client_secret_env` or the file.
    pub fn client_secret(issuer: &IssuerConfig) -> Result<Option<SecretString>, ConfigError> {
        if let Some(variable) = &issuer.client_secret_env {
            return match std::env::var(variable) {
                Ok(value) => Ok(Some(SecretString::new(value))),
                Err(_) => Err(ConfigError::Value {
                    key: format!("issuers.{}.client_secret_env", issuer.name),
                    problem: format!("environment variable {variable} is not set"),
                }),
            };
        }
        Ok(issuer.client_secret.clone())
    }
}

/// An IP address (as a one-address range) or a CIDR range.
pub fn parse_ip_net(text: &str) -> Option<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_from(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tresor.toml");
        std::fs::write(&path, text).expect("write config");
        Config::load(Some(&path))
    }

    #[test]
    fn defaults_are_loopback_and_25_mib() {
        let config = load_from("").expect("empty file is valid");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.upload_limit_bytes, DEFAULT_UPLOAD_LIMIT);
        assert!(config.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn bad_value_names_the_key() {
        let error = load_from("listen = \"not an address\"").expect_err("must fail").to_string();
        assert!(error.contains("listen"), "{error}");
        let error = load_from("upload_limit_bytes = 0").expect_err("must fail").to_string();
        assert!(error.contains("upload_limit_bytes"), "{error}");
        let error = load_from(
            "[[issuers]]\nname = \"eid\"\nissuer_url = \"https://idp\"\nclient_id = \"x\"\nmin_level = \"medium\"",
        )
        .expect_err("must fail")
        .to_string();
        assert!(error.contains("issuers[0].min_level"), "{error}");
    }

    #[test]
    fn staff_issuer_is_checked_like_a_citizen_issuer_and_needs_its_own_name() {
        let config = load_from(
            "[staff_issuer]\nname = \"staff\"\nissuer_url = \"https://login.stadt.example\"\nclient_id = \"tresor-staff\"",
        )
        .expect("valid");
        assert_eq!(config.staff_issuer.map(|issuer| issuer.name), Some("staff".to_owned()));
        let error = load_from("[staff_issuer]\nname = \"staff\"\nissuer_url = \"not a url\"\nclient_id = \"x\"")
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("staff_issuer.issuer_url"), "{error}");
        let error = load_from(
            "[staff_issuer]\nname = \"eid\"\nissuer_url = \"https://staff\"\nclient_id = \"x\"\n\
             [[issuers]]\nname = \"eid\"\nissuer_url = \"https://idp\"\nclient_id = \"y\"",
        )
        .expect_err("must fail")
        .to_string();
        assert!(error.contains("issuers[0].name") && error.contains("duplicate"), "{error}");
    }

    #[test]
    fn department_auth_section_checks_proxies_and_header() {
        let config =
            load_from("[departments]\nca_file = \"ca.pem\"\ntrusted_proxies = [\"10.0.0.0/24\", \"127.0.0.1\"]")
                .expect("valid");
        let departments = config.departments.expect("section");
        assert_eq!(departments.certificate_header, "x-ssl-client-cert");
        let error = load_from("[departments]\nca_file = \"ca.pem\"\ntrusted_proxies = [\"10.0.0.0/33\"]")
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("departments.trusted_proxies[0]"), "{error}");
        let error = load_from("[departments]\nca_file = \"ca.pem\"\ncertificate_header = \"bad header\"")
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("departments.certificate_header"), "{error}");
    }

    #[test]
    fn tls_section_is_optional_and_checked() {
        assert!(load_from("").expect("valid").tls.is_none());
        let config = load_from(
            "[tls]\nlisten = \"0.0.0.0:8443\"\ncertificate_file = \"server.pem\"\nprivate_key_file = \"server.key\"",
        )
        .expect("valid");
        let tls = config.tls.expect("section");
        assert_eq!(tls.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(tls.certificate_file, PathBuf::from("server.pem"));

        for (text, key) in [
            ("[tls]\nlisten = \"127.0.0.1:8080\"\ncertificate_file = \"a\"\nprivate_key_file = \"b\"", "tls.listen"),
            ("[tls]\nlisten = \"0.0.0.0:8080\"\ncertificate_file = \"a\"\nprivate_key_file = \"b\"", "tls.listen"),
            ("[tls]\nlisten = \"8443\"\ncertificate_file = \"a\"\nprivate_key_file = \"b\"", "listen"),
            (
                "[tls]\nlisten = \"127.0.0.1:8443\"\ncertificate_file = \"\"\nprivate_key_file = \"b\"",
                "tls.certificate_file",
            ),
            ("[tls]\nlisten = \"127.0.0.1:8443\"\ncertificate_file = \"a\"", "private_key_file"),
        ] {
            let error = load_from(text).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn limits_have_defaults_and_are_checked() {
        let config = load_from("").expect("valid");
        assert_eq!(config.limits.header_read_timeout_seconds, 10);
        assert_eq!(config.hsts_max_age_seconds, 365 * 24 * 60 * 60);
        assert!(config.proxy.trusted.is_empty());
        let config = load_from("[limits]\nmax_connections = 10\n").expect("partial section");
        assert_eq!(config.limits.max_connections, 10);
        assert_eq!(config.limits.idle_timeout_seconds, Limits::default().idle_timeout_seconds);
        for (text, key) in [
            ("[limits]\nmax_connections = 0", "limits.max_connections"),
            ("[limits]\nstore_timeout_seconds = 0", "limits.store_timeout_seconds"),
            ("[limits]\npublic_calls_per_minute = 0", "limits.public_calls_per_minute"),
            ("[limits]\nno_such_limit = 1", "no_such_limit"),
            ("[proxy]\ntrusted = [\"10.0.0.0/33\"]", "proxy.trusted[0]"),
            ("[proxy]\nclient_address_header = \"bad header\"", "proxy.client_address_header"),
        ] {
            let error = load_from(text).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn the_city_section_is_optional_and_checked() {
        let config = load_from("").expect("valid");
        assert_eq!(config.city, CityConfig::default());
        let config = load_from(
            "[city]\nname = \"Stadt Beispiel\"\naddress = [\"Markt 1\", \"99999 Beispiel\"]\n\
             sign_language_video_url = \"https://video.example/dgs\"\naccessibility_conformance = \"partial\"\n\
             accessibility_statement_date = \"2026-11-30\"",
        )
        .expect("valid");
        assert_eq!(config.city.name, "Stadt Beispiel");
        assert_eq!(config.city.address, ["Markt 1", "99999 Beispiel"]);
        assert!(!config.city.example);
        assert!(CityConfig::dev_example().check().is_ok(), "the dev example is valid");
        for (text, key) in [
            ("[city]\nsign_language_video_url = \"javascript:alert(1)\"", "city.sign_language_video_url"),
            ("[city]\nenforcement_url = \"not a url\"", "city.enforcement_url"),
            ("[city]\naccessibility_conformance = \"mostly\"", "city.accessibility_conformance"),
            ("[city]\naccessibility_statement_date = \"1.12.2026\"", "city.accessibility_statement_date"),
            ("[city]\nname = \"Stadt\u{202E}X\"", "city.name"),
            ("[city]\nmayor = \"x\"", "mayor"),
            ("[limits]\nfeedback_messages_per_hour = 0", "limits.feedback_messages_per_hour"),
        ] {
            let error = load_from(text).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let config = load_from("database_url = \"postgres://u:hunter2@db/tresor\"").expect("valid");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.database_url(), "postgres://u:hunter2@db/tresor");
    }
}
