//! Built-in OpenID provider for `tresor serve --dev` and for tests: a real,
//! minimal OIDC provider (discovery, JWKS, authorization code with PKCE,
//! token, end-session) so dev logins run the production relying-party code.
//!
//! Architecture Invariant: never mounted outside dev mode. It signs tokens for
//! fixed test personas without any authentication.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use maud::{DOCTYPE, Markup, html};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use url::Url;

use crate::policy::LoginLevel;

/// Authorization codes are valid this long.
const CODE_LIFETIME_SECONDS: i64 = 60;
/// ID tokens are valid this long.
const ID_TOKEN_LIFETIME_SECONDS: i64 = 300;

/// A fictional test citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persona {
    pub id: &'static str,
    pub display_name: &'static str,
    pub level: LoginLevel,
    pub description_de: &'static str,
    pub description_en: &'static str,
}

static PERSONAS: [Persona; 3] = [
    Persona {
        id: "anna",
        display_name: "Anna Testfrau",
        level: LoginLevel::High,
        description_de: "Personalausweis mit Online-Ausweisfunktion (Vertrauensniveau hoch)",
        description_en: "German ID card with online function (level of assurance high)",
    },
    Persona {
        id: "ben",
        display_name: "Ben Beispiel",
        level: LoginLevel::Substantial,
        description_de: "EU-eID (Vertrauensniveau substanziell)",
        description_en: "EU eID (level of assurance substantial)",
    },
    Persona {
        id: "clara",
        display_name: "Clara Probe",
        level: LoginLevel::Low,
        description_de: "Basiskonto mit Passwort (Vertrauensniveau niedrig)",
        description_en: "Basic account with password (level of assurance low)",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum DevIdpError {
    #[error("invalid dev identity provider configuration: {0}")]
    Configuration(String),
    #[error("dev identity provider key operation failed")]
    Key,
}

pub struct DevIdp {
    issuer: String,
    /// Path of the provider's stylesheet (the issuer's path + `/style.css`):
    /// the pages link it, as tresor's CSP allows no inline style.
    stylesheet_path: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    signing_key: RwLock<Arc<SigningKey>>,
    codes: Mutex<HashMap<String, IssuedCode>>,
    /// Runtime randomness (codes, session ids, ECDSA nonces). The key is
    /// generated from the RNG passed to `new`.
    rng: SystemRandom,
}

impl fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

struct SigningKey {
    key_pair: EcdsaKeyPair,
    kid: String,
    public_jwk: Value,
}

struct IssuedCode {
    persona: &'static Persona,
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

impl DevIdp {
    /// `issuer` is the base URL the router is served under, e.g.
    /// "http://127.0.0.1:8080/dev-idp". The one client registration is fixed.
    pub fn new(
        issuer: String,
        client_id: String,
        client_secret: String,
        redirect_uri: String,
        rng: &dyn SecureRandom,
    ) -> Result<Self, DevIdpError> {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let issuer_url = Url::parse(&issuer).map_err(|_| DevIdpError::Configuration("issuer is not a URL".into()))?;
        let stylesheet_path = format!("{}/style.css", issuer_url.path().trim_end_matches('/'));
        Url::parse(&redirect_uri).map_err(|_| DevIdpError::Configuration("redirect_uri is not a URL".into()))?;
        if client_id.is_empty() || client_secret.is_empty() {
            return Err(DevIdpError::Configuration("client_id and client_secret must not be empty".into()));
        }
        Ok(Self {
            issuer,
            stylesheet_path,
            client_id,
            client_secret,
            redirect_uri,
            signing_key: RwLock::new(Arc::new(SigningKey::generate(rng)?)),
            codes: Mutex::new(HashMap::new()),
            rng: SystemRandom::new(),
        })
    }

    pub fn personas() -> &'static [Persona] {
        &PERSONAS
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Routes relative to the base path; the caller nests this at the
    /// issuer's path (e.g. `/dev-idp`).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/authorize/choose", post(authorize_choose))
            .route("/token", post(token))
            .route("/logout", get(logout))
            .route("/style.css", get(stylesheet))
            .with_state(self)
    }

    /// Replaces the signing key (new `kid`); relying parties must refetch the
    /// JWKS. Exercises key rotation in tests.
    pub fn rotate_signing_key(&self, rng: &dyn SecureRandom) -> Result<(), DevIdpError> {
        let fresh = Arc::new(SigningKey::generate(rng)?);
        *self.signing_key.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// Signs arbitrary claims with the provider's current key (ES256), with
    /// the given `typ` header. For tests that need tokens a well-behaved
    /// provider would not issue (logout tokens, broken claims).
    pub fn sign_jwt_for_tests(&self, typ: Option<&str>, claims: &Value) -> Result<String, DevIdpError> {
        self.sign_jwt(typ, claims)
    }

    fn current_key(&self) -> Arc<SigningKey> {
        self.signing_key.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn sign_jwt(&self, typ: Option<&str>, claims: &Value) -> Result<String, DevIdpError> {
        let key = self.current_key();
        let mut header = json!({ "alg": "ES256", "kid": key.kid });
        if let Some(typ) = typ {
            header["typ"] = Value::String(typ.to_owned());
        }
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = key.key_pair.sign(&self.rng, signing_input.as_bytes()).map_err(|_| DevIdpError::Key)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    fn random_token(&self) -> Result<String, DevIdpError> {
        let mut bytes = [0u8; 32];
        self.rng.fill(&mut bytes).map_err(|_| DevIdpError::Key)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    fn issue_code(&self, persona: &'static Persona, request: &ValidAuthorize) -> Result<String, DevIdpError> {
        let code = self.random_token()?;
        let now = Utc::now();
        let mut codes = self.codes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        codes.retain(|_, issued| issued.expires_at > now);
        codes.insert(
            code.clone(),
            IssuedCode {
                persona,
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                redirect_uri: request.redirect_uri.clone(),
                expires_at: now + Duration::seconds(CODE_LIFETIME_SECONDS),
            },
        );
        Ok(code)
    }

    /// Checks an authorization request. `Err` is the response to send: an
    /// error page while the redirect URI is untrusted, a redirect after.
    fn validate_authorize(&self, params: &AuthorizeParams) -> Result<ValidAuthorize, Box<Response>> {
        if params.client_id.as_deref() != Some(self.client_id.as_str()) {
            return Err(Box::new(error_page(self, StatusCode::BAD_REQUEST, "unknown client_id")));
        }
        if params.redirect_uri.as_deref() != Some(self.redirect_uri.as_str()) {
            return Err(Box::new(error_page(self, StatusCode::BAD_REQUEST, "redirect_uri not registered")));
        }
        let state = params.state.clone().filter(|state| !state.is_empty());
        let fail = |code: &str, description: &str| {
            Box::new(redirect_with(
                self,
                &self.redirect_uri,
                &[("error", code), ("error_description", description), ("state", state.as_deref().unwrap_or(""))],
            ))
        };
        if params.response_type.as_deref() != Some("code") {
            return Err(fail("unsupported_response_type", "only response_type=code"));
        }
        let has_openid_scope = params.scope.as_deref().is_some_and(|scope| scope.split(' ').any(|s| s == "openid"));
        if !has_openid_scope {
            return Err(fail("invalid_scope", "scope must contain openid"));
        }
        let Some(state) = state.clone() else {
            return Err(fail("invalid_request", "state is required"));
        };
        let Some(nonce) = params.nonce.clone().filter(|nonce| !nonce.is_empty()) else {
            return Err(fail("invalid_request", "nonce is required"));
        };
        if params.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail("invalid_request", "PKCE with S256 is required"));
        }
        let Some(code_challenge) = params.code_challenge.clone().filter(|challenge| challenge.len() == 43) else {
            return Err(fail("invalid_request", "code_challenge is required"));
        };
        Ok(ValidAuthorize { redirect_uri: self.redirect_uri.clone(), state, nonce, code_challenge })
    }

    fn complete_authorize(&self, persona: &'static Persona, request: &ValidAuthorize) -> Response {
        match self.issue_code(persona, request) {
            Ok(code) => redirect_with(
                self,
                &request.redirect_uri,
                &[("code", code.as_str()), ("state", request.state.as_str())],
            ),
            Err(_) => error_page(self, StatusCode::INTERNAL_SERVER_ERROR, "could not issue a code"),
        }
    }

    fn client_authenticated(&self, headers: &HeaderMap, form: &TokenForm) -> bool {
        let (client_id, client_secret) = match basic_credentials(headers) {
            Some(credentials) => credentials,
            None => match (&form.client_id, &form.client_secret) {
                (Some(id), Some(secret)) => (id.clone(), secret.clone()),
                _ => return false,
            },
        };
        let id_ok = client_id.as_bytes().ct_eq(self.client_id.as_bytes());
        let secret_ok = client_secret.as_bytes().ct_eq(self.client_secret.as_bytes());
        bool::from(id_ok & secret_ok)
    }

    fn id_token_for(&self, issued: &IssuedCode) -> Result<String, DevIdpError> {
        let now = Utc::now().timestamp();
        let claims = json!({
            "iss": self.issuer,
            "sub": stable_subject(issued.persona),
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_SECONDS,
            "auth_time": now,
            "nonce": issued.nonce,
            "acr": issued.persona.level.as_acr(),
            "sid": self.random_token()?,
        });
        self.sign_jwt(Some("JWT"), &claims)
    }
}

impl SigningKey {
    fn generate(rng: &dyn SecureRandom) -> Result<Self, DevIdpError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).map_err(|_| DevIdpError::Key)?;
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng)
            .map_err(|_| DevIdpError::Key)?;
        // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = key_pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(DevIdpError::Key);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638 thumbprint as key id: members in lexicographic order.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(digest(&SHA256, thumbprint_input.as_bytes()));
        let public_jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "use": "sig", "alg": "ES256", "kid": kid,
        });
        Ok(Self { key_pair, kid, public_jwk })
    }
}

/// The same subject for a persona across logins and restarts, so a dev
/// citizen keeps their data.
/// The `sub` the dev provider issues for a persona (stable across runs).
pub fn subject_of(persona_id: &str) -> Option<String> {
    persona_by_id(persona_id).map(stable_subject)
}

fn stable_subject(persona: &Persona) -> String {
    let hash = digest(&SHA256, format!("tresor-dev-idp\0{}", persona.id).as_bytes());
    format!("dev-{}", URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16]))
}

fn persona_by_id(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|persona| persona.id == id)
}

#[derive(Debug, Default, Deserialize)]
struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
    acr_values: Option<String>,
    persona: Option<String>,
}

struct ValidAuthorize {
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
}

#[derive(Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn discovery(State(idp): State<Arc<DevIdp>>) -> Response {
    let document = json!({
        "issuer": idp.issuer,
        "authorization_endpoint": idp.endpoint("/authorize"),
        "token_endpoint": idp.endpoint("/token"),
        "jwks_uri": idp.endpoint("/jwks"),
        "end_session_endpoint": idp.endpoint("/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid"],
        "grant_types_supported": ["authorization_code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_parameter_supported": true,
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "acr", "sid"],
        "acr_values_supported": [
            LoginLevel::Low.as_acr(),
            LoginLevel::Substantial.as_acr(),
            LoginLevel::High.as_acr(),
        ],
    });
    axum::Json(document).into_response()
}

async fn jwks(State(idp): State<Arc<DevIdp>>) -> Response {
    let key = idp.current_key();
    axum::Json(json!({ "keys": [key.public_jwk] })).into_response()
}

async fn authorize(State(idp): State<Arc<DevIdp>>, Query(params): Query<AuthorizeParams>) -> Response {
    let request = match idp.validate_authorize(&params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match params.login_hint.as_deref().and_then(persona_by_id) {
        Some(persona) => idp.complete_authorize(persona, &request),
        None => no_store(persona_page(&idp, &params, None).into_response()),
    }
}

async fn authorize_choose(State(idp): State<Arc<DevIdp>>, Form(params): Form<AuthorizeParams>) -> Response {
    let request = match idp.validate_authorize(&params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match params.persona.as_deref().and_then(persona_by_id) {
        Some(persona) => idp.complete_authorize(persona, &request),
        None => {
            let mut response =
                persona_page(&idp, &params, Some("Bitte eine Testperson wählen. / Please choose a test person."))
                    .into_response();
            *response.status_mut() = StatusCode::BAD_REQUEST;
            no_store(response)
        }
    }
}

async fn token(State(idp): State<Arc<DevIdp>>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    if !idp.client_authenticated(&headers, &form) {
        let mut response = token_error(StatusCode::UNAUTHORIZED, "invalid_client");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dev-idp\""));
        return response;
    }
    if form.grant_type.as_deref() != Some("authorization_code") {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(code) = form.code.as_deref() else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    // Removed before any check: a code is spent by its first use, even a failed one.
    let issued = idp.codes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(code);
    let Some(issued) = issued else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if issued.expires_at <= Utc::now() {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if form.redirect_uri.as_deref() != Some(issued.redirect_uri.as_str()) {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let Some(verifier) = form.code_verifier.as_deref() else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    if !bool::from(computed.as_bytes().ct_eq(issued.code_challenge.as_bytes())) {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let (id_token, access_token) = match (idp.id_token_for(&issued), idp.random_token()) {
        (Ok(id_token), Ok(access_token)) => (id_token, access_token),
        _ => return token_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    no_store(
        axum::Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_LIFETIME_SECONDS,
            "id_token": id_token,
        }))
        .into_response(),
    )
}

async fn logout(State(idp): State<Arc<DevIdp>>, Query(params): Query<LogoutParams>) -> Response {
    // Nothing to clear: the dev provider keeps no login sessions. Redirect
    // back only to the registered client's own origin.
    let target = params
        .post_logout_redirect_uri
        .as_deref()
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| Url::parse(&idp.redirect_uri).is_ok_and(|registered| registered.origin() == uri.origin()));
    match target {
        Some(target) => {
            let state = params.state.unwrap_or_default();
            if state.is_empty() {
                Redirect::to(target.as_str()).into_response()
            } else {
                redirect_with(&idp, target.as_str(), &[("state", state.as_str())])
            }
        }
        None => no_store(
            page(
                &idp,
                "Abgemeldet — Logged out",
                html! {
                    h1 { "Abgemeldet" }
                    p lang="en" { "Logged out of the test identity provider." }
                },
            )
            .into_response(),
        ),
    }
}

/// 302 to `base` with extra query pairs, keeping any query it already has.
fn redirect_with(idp: &DevIdp, base: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(base) else {
        return error_page(idp, StatusCode::BAD_REQUEST, "invalid redirect URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}

fn token_error(status: StatusCode, code: &'static str) -> Response {
    no_store((status, axum::Json(json!({ "error": code }))).into_response())
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_page(idp: &DevIdp, status: StatusCode, message: &str) -> Response {
    let body = page(
        idp,
        "Fehler — Error",
        html! {
            h1 { "Anmeldung nicht möglich" }
            p lang="en" { "Login not possible." }
            p { (message) }
        },
    );
    no_store((status, body).into_response())
}

/// The pages' look, served at `{issuer}/style.css`: a stylesheet of its
/// own, because the CSP on every response (`style-src 'self'`) refuses
/// inline `<style>`.
const STYLESHEET: &str = concat!(
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\n",
    ".test-note{border:3px solid #b00020;background:#fff4f4;padding:1rem;font-size:1.25rem}\n",
    "fieldset{border:1px solid #555;padding:1rem}\n",
    ".persona{margin:.75rem 0}\n",
    "input[type=radio]{width:1.25rem;height:1.25rem;vertical-align:top}\n",
    "button{font-size:1.1rem;padding:.5rem 1.5rem;margin-top:1rem}\n",
    ":focus{outline:3px solid #0050b3;outline-offset:2px}\n",
);

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

fn page(idp: &DevIdp, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="de" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(idp.stylesheet_path);
            }
            body {
                main {
                    p class="test-note" role="note" {
                        strong { "Test-Anmeldung — kein echter Online-Ausweis." }
                        br;
                        strong lang="en" { "Test login — not a real eID." }
                    }
                    (content)
                }
            }
        }
    }
}

fn level_label(level: LoginLevel) -> &'static str {
    match level {
        LoginLevel::Low => "niedrig / low",
        LoginLevel::Substantial => "substanziell / substantial",
        LoginLevel::High => "hoch / high",
    }
}

fn persona_page(idp: &DevIdp, params: &AuthorizeParams, error: Option<&str>) -> Markup {
    let hidden: [(&str, &Option<String>); 9] = [
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("response_type", &params.response_type),
        ("scope", &params.scope),
        ("state", &params.state),
        ("nonce", &params.nonce),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("acr_values", &params.acr_values),
    ];
    page(
        idp,
        "Testperson wählen — Choose a test person",
        html! {
            h1 { "Testperson wählen" }
            p lang="en" { "Choose a test person" }
            @if let Some(error) = error {
                p role="alert" id="choose-error" { strong { (error) } }
            }
            form method="post" action=(idp.endpoint("/authorize/choose")) {
                fieldset {
                    legend { "Als wer möchten Sie sich anmelden? " span lang="en" { "Log in as:" } }
                    @for (index, persona) in DevIdp::personas().iter().enumerate() {
                        div class="persona" {
                            input type="radio" name="persona" required
                                id=(format!("persona-{}", persona.id))
                                value=(persona.id)
                                aria-describedby=(format!("persona-{}-description", persona.id))
                                checked[index == 0];
                            " "
                            label for=(format!("persona-{}", persona.id)) {
                                strong { (persona.display_name) }
                                " — Vertrauensniveau / level: " (level_label(persona.level))
                            }
                            div id=(format!("persona-{}-description", persona.id)) {
                                (persona.description_de)
                                br;
                                span lang="en" { (persona.description_en) }
                            }
                        }
                    }
                }
                @for (name, value) in hidden {
                    @if let Some(value) = value {
                        input type="hidden" name=(name) value=(value);
                    }
                }
                button type="submit" { "Anmelden " span lang="en" { "/ Log in" } }
            }
        },
    )
}
