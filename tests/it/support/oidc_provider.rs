//! A real OpenID provider for integration tests: `tests/oidc-provider/server.js`
//! (the certified `oidc-provider` npm package plus test-only control endpoints).
//!
//! Needs `node` on PATH and `npm ci --prefix tests/oidc-provider` done beforehand
//! (CI does it; this module never runs npm).
//!
//! Personas (log in with `login_hint=<name>`, no page involved): `anna` (max acr
//! high), `ben` (substantial), `clara` (low). The issued `acr` is the requested
//! level, or the persona's maximum when that is lower.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

pub const LOA_LOW: &str = "http://eidas.europa.eu/LoA/low";
pub const LOA_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
pub const LOA_HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// The `sub` (eID pseudonym) the provider issues for a persona.
pub fn persona_sub(account: &str) -> &'static str {
    match account {
        "anna" => "eid-pseudonym-anna-7f3a9c",
        "ben" => "eid-pseudonym-ben-2b81d4",
        "clara" => "eid-pseudonym-clara-c05e61",
        other => panic!("unknown persona {other:?} (anna, ben, clara)"),
    }
}

/// The full name the provider hands out for a persona (`name` claim): personal
/// data the RP must not store.
pub fn persona_name(account: &str) -> &'static str {
    match account {
        "anna" => "Anna Schmidt",
        "ben" => "Ben Müller",
        "clara" => "Clara Weber",
        other => panic!("unknown persona {other:?} (anna, ben, clara)"),
    }
}

/// A client (relying party) registered at the provider at start.
/// Token endpoint authentication is `client_secret_basic`; back-channel logout
/// (if a URI is given) requires `sid`.
#[derive(Debug, Clone, Serialize)]
pub struct TestClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
}

impl TestClient {
    /// A client with one redirect URI and no logout URIs.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        }
    }
}

#[derive(Serialize)]
struct ClientConfig<'a> {
    #[serde(flatten)]
    client: &'a TestClient,
    backchannel_logout_session_required: bool,
}

/// The running provider; killed when dropped.
pub struct TestOidcProvider {
    /// `http://127.0.0.1:<port>`, also the `iss` of its tokens.
    pub issuer: String,
    child: Child,
    /// Held open, never written: node exits on EOF, i.e. when this process dies.
    _stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

const START_TIMEOUT: Duration = Duration::from_secs(20);

fn server_js() -> String {
    format!("{}/tests/oidc-provider/server.js", env!("CARGO_MANIFEST_DIR"))
}

impl TestOidcProvider {
    /// Starts `node tests/oidc-provider/server.js` on a free port and waits (20 s
    /// at most) for its `READY <issuer>` line. Panics with node's stderr if it
    /// does not come up.
    pub async fn start(clients: Vec<TestClient>) -> Self {
        let configs: Vec<ClientConfig<'_>> =
            clients.iter().map(|client| ClientConfig { client, backchannel_logout_session_required: true }).collect();
        let clients_json = serde_json::to_string(&configs).expect("serialise clients");
        let script = server_js();
        let mut child = Command::new("node")
            .arg(&script)
            .env("PORT", "0")
            .env("CLIENTS", clients_json)
            .env("EXIT_ON_STDIN_EOF", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node {script}` (is Node.js installed?): {e}"));

        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });

        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(issuer) = line.strip_prefix("READY ") {
                    return Some(issuer.trim().to_owned());
                }
            }
            None
        })
        .await;
        let issuer = match ready {
            Ok(Some(issuer)) => issuer,
            outcome => {
                let _ = child.start_kill();
                // Let the stderr reader catch up with what node said before dying.
                let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let why = if outcome.is_err() {
                    "timed out waiting for the READY line"
                } else {
                    "node exited before printing READY"
                };
                let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                let hint = if log.contains("Cannot find package") {
                    "\nhint: run `npm ci --prefix tests/oidc-provider` first"
                } else {
                    ""
                };
                panic!("test OpenID provider did not start: {why}; node stderr:\n{log}{hint}");
            }
        };
        // Keep draining stdout so node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        Self { issuer, child, _stdin: stdin, stderr, http }
    }

    /// Everything node has written to stderr so far (provider log, errors).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The child process id (for diagnostics).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.issuer);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp =
            req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}\nprovider stderr:\n{}", self.stderr()));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {url} -> {status}: {text}\nprovider stderr:\n{}", self.stderr());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: bad JSON {e}: {text}"))
    }

    /// Replaces the signing key by a new one with a new `kid` (the old key is gone
    /// from the JWKS; tokens signed with it no longer verify against it).
    /// Returns nothing; see [`Self::rotate_keys_kid`] for the new `kid`.
    pub async fn rotate_keys(&self) {
        self.rotate_keys_kid().await;
    }

    /// [`Self::rotate_keys`], returning the new `kid`.
    pub async fn rotate_keys_kid(&self) -> String {
        let v = self.control(reqwest::Method::POST, "/test/rotate-keys", Some(json!({}))).await;
        v["kid"].as_str().expect("kid").to_owned()
    }

    /// The NEXT token response's `id_token` gets these claims (re-signed with the
    /// current key and kid). Keys: any claim (`aud`, `nonce`, `acr`, `iss`, `sub`,
    /// ...; `null` removes it), `exp_offset_seconds` / `iat_offset_seconds`
    /// (relative to now), `corrupt_signature: true` (flips signature bits).
    pub async fn override_next_id_token(&self, overrides: Value) {
        self.control(reqwest::Method::POST, "/test/id-token-override", Some(overrides)).await;
    }

    /// Sends a logout token (sub + sid of `account`'s latest login at `client_id`)
    /// to the client's `backchannel_logout_uri`; returns the RP's HTTP status.
    pub async fn backchannel_logout(&self, account: &str, client_id: &str) -> u16 {
        let v = self.backchannel_logout_with(json!({ "account": account, "client_id": client_id })).await;
        u16::try_from(v["status"].as_u64().expect("status")).expect("HTTP status")
    }

    /// Full control: body `{"client_id", "account"?, "sid"?, "overrides"?}`
    /// (`overrides` as in [`Self::override_next_id_token`], applied to the logout
    /// token). Returns `{"status", "body", "logout_token", "sub", "sid"}`.
    pub async fn backchannel_logout_with(&self, body: Value) -> Value {
        self.control(reqwest::Method::POST, "/test/backchannel-logout", Some(body)).await
    }

    /// The last logout token sent (by `/test/backchannel-logout` or by the
    /// provider's own end-session flow), e.g. to replay it.
    pub async fn last_logout_token(&self) -> String {
        let v = self.control(reqwest::Method::GET, "/test/last-logout-token", None).await;
        v["logout_token"].as_str().expect("logout_token").to_owned()
    }

    /// Drives an authorization request through the provider without a browser:
    /// follows redirects (with a fresh cookie jar) while they stay on the
    /// provider and returns the first `Location` outside it — the RP's
    /// redirect URI with `code`/`state` (or `error`). The request needs
    /// `login_hint=<persona>`.
    pub async fn authorize(&self, authorization_url: &str) -> url::Url {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        self.authorize_with(&http, authorization_url).await
    }

    /// [`Self::authorize`] with the caller's client (its cookie jar keeps the
    /// provider session, e.g. for RP-initiated logout). The client must not
    /// follow redirects itself.
    pub async fn authorize_with(&self, http: &reqwest::Client, authorization_url: &str) -> url::Url {
        let mut url = url::Url::parse(authorization_url).expect("authorization URL");
        for _ in 0..10 {
            let resp = http.get(url.clone()).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = resp.status();
            if !status.is_redirection() {
                let body = resp.text().await.unwrap_or_default();
                panic!(
                    "provider answered GET {url} with {status} instead of a redirect: {body}\nprovider stderr:\n{}",
                    self.stderr()
                );
            }
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{status} from {url} without Location"))
                .to_owned();
            let next = url.join(&location).expect("Location URL");
            if !next.as_str().starts_with(&format!("{}/", self.issuer)) {
                return next;
            }
            url = next;
        }
        panic!("more than 10 redirects inside the provider, last {url}");
    }
}
