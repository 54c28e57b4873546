//! OpenID Connect relying party for one configured issuer (the eID bridge, or
//! the built-in dev provider). Owns the authorization request, the code
//! exchange, full ID-token validation and back-channel logout-token validation.
//!
//! Nothing here logs tokens, subjects or claims; errors carry fixed, short
//! reasons so they are safe to show and to log.

use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::{Duration as StdDuration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdToken, IdTokenFields, IdTokenVerifier, IssuerUrl, JsonWebKey, JsonWebKeyId, JsonWebKeySetUrl, JsonWebKeyUse,
    JwsSigningAlgorithm, LoginHint, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse, TokenResponse as _,
};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::policy::LoginLevel;

/// The `events` member that marks a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Signature algorithms accepted when the configuration names none.
pub const DEFAULT_ALLOWED_ALGS: [&str; 4] = ["RS256", "ES256", "PS256", "EdDSA"];

/// Random bytes behind state, nonce and PKCE verifier: 32 bytes give 43
/// base64url characters.
const RANDOM_TOKEN_BYTES: usize = 32;

/// A token with an unknown `kid` triggers at most one JWKS fetch per interval,
/// so forged tokens cannot turn the vault into a request amplifier.
const MIN_JWKS_REFRESH_INTERVAL: StdDuration = StdDuration::from_secs(10);

/// Configuration of one issuer. `Debug` hides the client secret.
#[derive(Clone)]
pub struct IssuerSettings {
    /// Configuration key, e.g. "eid".
    pub name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// e.g. https://vault.example/auth/callback
    pub redirect_url: String,
    pub post_logout_redirect_url: String,
    pub min_level: LoginLevel,
    /// Extra scopes besides `openid`.
    pub scopes: Vec<String>,
    /// JWS algorithms accepted for ID and logout tokens; asymmetric only.
    pub allowed_algs: Vec<String>,
    /// Clock skew tolerated for `exp` and `iat`.
    pub leeway_seconds: i64,
    /// `iat` must not be older than this.
    pub max_token_age_seconds: i64,
}

impl IssuerSettings {
    /// Settings with the defaults for algorithms (RS256, ES256, PS256, EdDSA),
    /// leeway (60 s) and token age (300 s), and no extra scopes.
    pub fn new(
        name: impl Into<String>,
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        redirect_url: impl Into<String>,
        post_logout_redirect_url: impl Into<String>,
        min_level: LoginLevel,
    ) -> Self {
        Self {
            name: name.into(),
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_url: redirect_url.into(),
            post_logout_redirect_url: post_logout_redirect_url.into(),
            min_level,
            scopes: Vec::new(),
            allowed_algs: DEFAULT_ALLOWED_ALGS.iter().map(|s| s.to_string()).collect(),
            leeway_seconds: 60,
            max_token_age_seconds: 300,
        }
    }
}

impl fmt::Debug for IssuerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerSettings")
            .field("name", &self.name)
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_url", &self.redirect_url)
            .field("post_logout_redirect_url", &self.post_logout_redirect_url)
            .field("min_level", &self.min_level)
            .field("scopes", &self.scopes)
            .field("allowed_algs", &self.allowed_algs)
            .field("leeway_seconds", &self.leeway_seconds)
            .field("max_token_age_seconds", &self.max_token_age_seconds)
            .finish()
    }
}

/// What the login handler needs after `begin_login`: send the browser to
/// `authorize_url`, keep the rest server-side keyed by `state`.
pub struct LoginStart {
    pub authorize_url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl LoginStart {
    /// The part of the start that `finish_login` needs back.
    pub fn pending(&self) -> PendingAuth {
        PendingAuth { nonce: self.nonce.clone(), pkce_verifier: self.pkce_verifier.clone() }
    }
}

impl fmt::Debug for LoginStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginStart")
            .field("authorize_url", &"[redacted]")
            .field("state", &"[redacted]")
            .field("nonce", &"[redacted]")
            .field("pkce_verifier", &"[redacted]")
            .finish()
    }
}

/// Server-side state of an authorization request in flight.
#[derive(Clone)]
pub struct PendingAuth {
    pub nonce: String,
    pub pkce_verifier: String,
}

impl fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingAuth([redacted])")
    }
}

/// The result of a valid login. Deliberately no name, birth date or address:
/// the vault stores only a keyed hash of (issuer, subject).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedLogin {
    pub subject: String,
    pub level: LoginLevel,
    /// The provider's `sid` claim, to match back-channel logouts.
    pub idp_session_id: Option<String>,
}

impl fmt::Debug for VerifiedLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedLogin")
            .field("subject", &"[redacted]")
            .field("level", &self.level)
            .field("idp_session_id", &self.idp_session_id.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A valid back-channel logout token. The caller must refuse a `jti` it has
/// seen before and remember each `jti` until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub subject: Option<String>,
    pub idp_session_id: Option<String>,
    pub jti: String,
    /// After this instant the token is no longer accepted anyway.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for LogoutClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutClaims")
            .field("subject", &self.subject.as_ref().map(|_| "[redacted]"))
            .field("idp_session_id", &self.idp_session_id.as_ref().map(|_| "[redacted]"))
            .field("jti", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid identity provider configuration: {0}")]
    Configuration(String),
    #[error("identity provider discovery failed: {0}")]
    Discovery(String),
    #[error("code exchange with the identity provider failed: {0}")]
    TokenExchange(String),
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    #[error("login level too low: required {required:?}, got {got:?}")]
    LevelTooLow { required: LoginLevel, got: Option<LoginLevel> },
    #[error("invalid logout token: {0}")]
    InvalidLogoutToken(String),
    #[error("random number generator failed")]
    Random,
}

impl LoginError {
    /// Stable machine-readable code for API errors and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::Configuration(_) => "idp_configuration_invalid",
            LoginError::Discovery(_) => "idp_discovery_failed",
            LoginError::TokenExchange(_) => "token_exchange_failed",
            LoginError::InvalidIdToken(_) => "invalid_id_token",
            LoginError::LevelTooLow { .. } => "login_level_too_low",
            LoginError::InvalidLogoutToken(_) => "invalid_logout_token",
            LoginError::Random => "random_failed",
        }
    }
}

/// Fixed reasons inside `InvalidIdToken` / `InvalidLogoutToken`.
pub mod reason {
    pub const EXPIRED: &str = "expired";
    pub const ISSUED_IN_FUTURE: &str = "issued in the future";
    pub const ISSUED_TOO_LONG_AGO: &str = "issued too long ago";
    pub const NONCE_MISMATCH: &str = "nonce mismatch";
    pub const NONCE_MISSING: &str = "nonce missing";
    pub const AUDIENCE: &str = "audience";
    pub const AUTHORIZED_PARTY: &str = "authorized party";
    pub const ISSUER: &str = "issuer";
    pub const ALGORITHM: &str = "algorithm not allowed";
    pub const SIGNATURE: &str = "signature";
    pub const UNKNOWN_KEY: &str = "no matching signing key";
    pub const ACR_MISSING: &str = "acr missing";
    pub const ACR_UNKNOWN: &str = "acr unknown";
    pub const MALFORMED: &str = "malformed";
    pub const UNSUPPORTED: &str = "unsupported token";
    pub const MISSING_ID_TOKEN: &str = "missing id_token";
    pub const SUBJECT: &str = "subject";
    pub const TYPE: &str = "type";
    pub const EVENTS: &str = "events";
    pub const NONCE_PRESENT: &str = "nonce present";
    pub const JTI_MISSING: &str = "jti missing";
    pub const IAT_MISSING: &str = "iat missing";
}

/// The ID-token claims we read besides the standard ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct SessionClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}
impl AdditionalClaims for SessionClaims {}

type SessionIdToken =
    IdToken<SessionClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type SessionIdTokenFields = IdTokenFields<
    SessionClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type SessionTokenResponse = StandardTokenResponse<SessionIdTokenFields, CoreTokenType>;

/// `CoreClient` with our claims type, in the typestate that
/// `from_provider_metadata` produces: auth URL set, token and userinfo URL
/// "maybe set" (discovery documents may omit them).
type DiscoveredClient = Client<
    SessionClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    SessionTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub struct RelyingParty {
    settings: IssuerSettings,
    client: DiscoveredClient,
    http: reqwest::Client,
    issuer: IssuerUrl,
    jwks_uri: JsonWebKeySetUrl,
    /// The crate never refreshes keys; we swap this set on an unknown `kid`.
    jwks: RwLock<CoreJsonWebKeySet>,
    last_jwks_refresh: Mutex<Option<Instant>>,
    allowed_algs: Vec<CoreJwsSigningAlgorithm>,
    end_session_endpoint: Option<EndSessionUrl>,
    post_logout_redirect_url: PostLogoutRedirectUrl,
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty")
            .field("name", &self.settings.name)
            .field("issuer", &self.settings.issuer_url)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// Fetches the discovery document and JWKS. `http` should not follow
    /// redirects (SSRF); the tests and `tresor serve` build it that way.
    #[tracing::instrument(skip_all, fields(issuer = %settings.name))]
    pub async fn discover(settings: IssuerSettings, http: reqwest::Client) -> Result<Self, LoginError> {
        let allowed_algs = parse_allowed_algs(&settings.allowed_algs)?;
        if settings.leeway_seconds < 0 || settings.leeway_seconds > 600 {
            return Err(LoginError::Configuration("leeway_seconds must be between 0 and 600".into()));
        }
        if settings.max_token_age_seconds <= 0 {
            return Err(LoginError::Configuration("max_token_age_seconds must be positive".into()));
        }
        let issuer = IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|_| LoginError::Configuration("issuer_url is not a URL".into()))?;
        let redirect_url = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|_| LoginError::Configuration("redirect_url is not a URL".into()))?;
        let post_logout_redirect_url = PostLogoutRedirectUrl::new(settings.post_logout_redirect_url.clone())
            .map_err(|_| LoginError::Configuration("post_logout_redirect_url is not a URL".into()))?;

        let metadata = ProviderMetadataWithLogout::discover_async(issuer.clone(), &http)
            .await
            .map_err(|err| LoginError::Discovery(discovery_error_summary(&err)))?;
        let jwks_uri = metadata.jwks_uri().clone();
        let jwks = metadata.jwks().clone();
        let end_session_endpoint = metadata.additional_metadata().end_session_endpoint.clone();
        if metadata.token_endpoint().is_none() {
            return Err(LoginError::Discovery("provider has no token endpoint".into()));
        }

        let client = DiscoveredClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect_url);

        tracing::info!(keys = jwks.keys().len(), "identity provider discovered");
        Ok(Self {
            settings,
            client,
            http,
            issuer,
            jwks_uri,
            jwks: RwLock::new(jwks),
            last_jwks_refresh: Mutex::new(None),
            allowed_algs,
            end_session_endpoint,
            post_logout_redirect_url,
        })
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    pub fn min_level(&self) -> LoginLevel {
        self.settings.min_level
    }

    /// Authorization request: code flow, PKCE S256, fresh random state and
    /// nonce, `acr_values` = max(requested, min_level), the same level as an
    /// essential `acr` claim request, optional `login_hint`.
    pub fn begin_login(
        &self,
        rng: &dyn SecureRandom,
        requested: LoginLevel,
        login_hint: Option<&str>,
    ) -> Result<LoginStart, LoginError> {
        let level = requested.max(self.settings.min_level);
        let state = random_token(rng)?;
        let nonce = random_token(rng)?;
        let pkce_verifier = random_token(rng)?;
        let pkce_challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.clone()));

        let state_for_request = state.clone();
        let nonce_for_request = nonce.clone();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_request),
                move || Nonce::new(nonce_for_request),
            )
            .set_pkce_challenge(pkce_challenge)
            .add_auth_context_value(AuthenticationContextClass::new(level.as_acr().to_owned()))
            .add_extra_param("claims", essential_acr_claims_request(level));
        // `openid` is always sent; a configured duplicate would repeat it.
        for scope in self.settings.scopes.iter().filter(|scope| scope.as_str() != "openid") {
            request = request.add_scope(openidconnect::Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.set_login_hint(LoginHint::new(hint.to_owned()));
        }
        let (authorize_url, _, _) = request.url();
        Ok(LoginStart { authorize_url, state, nonce, pkce_verifier })
    }

    /// Exchanges the code and fully validates the ID token (OIDC Core
    /// 3.1.3.7) against the clock value `now`.
    #[tracing::instrument(skip_all, fields(issuer = %self.settings.name))]
    pub async fn finish_login(
        &self,
        code: &str,
        expected: &PendingAuth,
        requested: LoginLevel,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogin, LoginError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| LoginError::TokenExchange("provider has no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(expected.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|err| LoginError::TokenExchange(token_error_summary(&err)))?;
        let id_token =
            response.id_token().ok_or_else(|| LoginError::InvalidIdToken(reason::MISSING_ID_TOKEN.into()))?;
        self.validate_parsed_id_token(id_token, &expected.nonce, requested, now).await
    }

    /// Validates a raw ID token as `finish_login` does; for tests of the
    /// validation rules that a well-behaved provider never violates.
    #[cfg(test)]
    pub(crate) async fn validate_id_token(
        &self,
        raw_id_token: &str,
        expected_nonce: &str,
        requested: LoginLevel,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogin, LoginError> {
        let id_token =
            raw_id_token.parse::<SessionIdToken>().map_err(|_| LoginError::InvalidIdToken(reason::MALFORMED.into()))?;
        self.validate_parsed_id_token(&id_token, expected_nonce, requested, now).await
    }

    async fn validate_parsed_id_token(
        &self,
        id_token: &SessionIdToken,
        expected_nonce: &str,
        requested: LoginLevel,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogin, LoginError> {
        match self.check_id_token(id_token, expected_nonce, requested, now) {
            Err(CheckFailure::UnknownKey) => {
                self.refresh_jwks().await?;
                self.check_id_token(id_token, expected_nonce, requested, now).map_err(CheckFailure::into_id_token_error)
            }
            other => other.map_err(CheckFailure::into_id_token_error),
        }
    }

    fn check_id_token(
        &self,
        id_token: &SessionIdToken,
        expected_nonce: &str,
        requested: LoginLevel,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogin, CheckFailure> {
        let required = requested.max(self.settings.min_level);
        let leeway = Duration::seconds(self.settings.leeway_seconds);
        let max_age = Duration::seconds(self.settings.max_token_age_seconds);
        // The crate reports an acr rejection as a string; this carries the
        // typed reason out of the callback.
        let level_failure: Mutex<Option<LevelFailure>> = Mutex::new(None);
        let jwks = self.jwks.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();

        // Public-client verifier on purpose: a confidential one would accept
        // HS256 tokens keyed with the client secret. The allow-list excludes
        // HMAC algorithms anyway.
        let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            self.issuer.clone(),
            jwks,
        )
        .set_allowed_algs(self.allowed_algs.iter().cloned())
        // The crate compares `now >= exp` without leeway; shifting its clock
        // back by the leeway grants it.
        .set_time_fn(move || now - leeway)
        .set_issue_time_verifier_fn(move |issued_at| {
            if issued_at > now + leeway {
                Err(reason::ISSUED_IN_FUTURE.to_owned())
            } else if issued_at < now - max_age {
                Err(reason::ISSUED_TOO_LONG_AGO.to_owned())
            } else {
                Ok(())
            }
        })
        .set_auth_context_verifier_fn(|acr| {
            let Some(acr) = acr else {
                store_level_failure(&level_failure, LevelFailure::Unknown);
                return Err(reason::ACR_MISSING.to_owned());
            };
            match LoginLevel::from_acr(acr.as_str()) {
                None => {
                    store_level_failure(&level_failure, LevelFailure::Unknown);
                    Err(reason::ACR_UNKNOWN.to_owned())
                }
                Some(level) if level < required => {
                    store_level_failure(&level_failure, LevelFailure::TooLow(level));
                    Err("level too low".to_owned())
                }
                Some(_) => Ok(()),
            }
        })
        // Extra audiences are allowed only with azp == client_id, checked below.
        .set_other_audience_verifier_fn(|_| true);

        let nonce_check = |claimed: Option<&Nonce>| match claimed {
            None => Err(reason::NONCE_MISSING.to_owned()),
            Some(claimed) => {
                if bool::from(claimed.secret().as_bytes().ct_eq(expected_nonce.as_bytes())) {
                    Ok(())
                } else {
                    Err(reason::NONCE_MISMATCH.to_owned())
                }
            }
        };

        let claims = match id_token.claims(&verifier, nonce_check) {
            Ok(claims) => claims,
            Err(err) => {
                let level = level_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
                return Err(match (err, level) {
                    (ClaimsVerificationError::InvalidAuthContext(_), Some(LevelFailure::TooLow(got))) => {
                        CheckFailure::Level(LoginError::LevelTooLow { required, got: Some(got) })
                    }
                    (ClaimsVerificationError::InvalidAuthContext(_), Some(LevelFailure::Unknown)) => {
                        CheckFailure::Level(LoginError::LevelTooLow { required, got: None })
                    }
                    (err, _) => CheckFailure::from_claims_error(err),
                });
            }
        };

        // OIDC Core 3.1.3.7 steps 4-5, which the crate leaves to us.
        let client_id = self.settings.client_id.as_str();
        let azp_matches = claims.authorized_party().map(|azp| azp.as_str() == client_id);
        match azp_matches {
            Some(false) => return Err(CheckFailure::Invalid(reason::AUTHORIZED_PARTY)),
            None if claims.audiences().len() > 1 => {
                return Err(CheckFailure::Invalid(reason::AUTHORIZED_PARTY));
            }
            _ => {}
        }
        let subject = claims.subject().as_str();
        if subject.is_empty() || subject.len() > 255 {
            return Err(CheckFailure::Invalid(reason::SUBJECT));
        }
        let level = claims
            .auth_context_ref()
            .and_then(|acr| LoginLevel::from_acr(acr.as_str()))
            .ok_or(CheckFailure::Invalid(reason::ACR_UNKNOWN))?;

        Ok(VerifiedLogin { subject: subject.to_owned(), level, idp_session_id: claims.additional_claims().sid.clone() })
    }

    /// Validates an OIDC Back-Channel Logout 1.0 token (section 2.6).
    #[tracing::instrument(skip_all, fields(issuer = %self.settings.name))]
    pub async fn verify_logout_token(&self, token: &str, now: DateTime<Utc>) -> Result<LogoutClaims, LoginError> {
        match self.check_logout_token(token, now) {
            Err(CheckFailure::UnknownKey) => {
                self.refresh_jwks().await?;
                self.check_logout_token(token, now).map_err(CheckFailure::into_logout_token_error)
            }
            other => other.map_err(CheckFailure::into_logout_token_error),
        }
    }

    fn check_logout_token(&self, token: &str, now: DateTime<Utc>) -> Result<LogoutClaims, CheckFailure> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let header: LogoutTokenHeader = decode_json_part(header_b64).ok_or_else(malformed)?;
        if header.crit.is_some() || header.cty.is_some() {
            return Err(CheckFailure::Invalid(reason::UNSUPPORTED));
        }
        if let Some(typ) = &header.typ {
            let typ = typ.to_ascii_lowercase();
            if typ != "logout+jwt" && typ != "application/logout+jwt" {
                return Err(CheckFailure::Invalid(reason::TYPE));
            }
        }
        let alg: CoreJwsSigningAlgorithm = serde_json::from_value(serde_json::Value::String(header.alg.clone()))
            .map_err(|_| CheckFailure::Invalid(reason::ALGORITHM))?;
        if !self.allowed_algs.contains(&alg) {
            return Err(CheckFailure::Invalid(reason::ALGORITHM));
        }
        let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| malformed())?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        self.verify_jws_signature(header.kid.as_deref(), &alg, signing_input.as_bytes(), &signature)?;

        // Signature is good; now the claims (spec 2.6 steps 3-7).
        let payload: serde_json::Map<String, serde_json::Value> =
            decode_json_part(payload_b64).ok_or_else(malformed)?;
        if payload.contains_key("nonce") {
            return Err(CheckFailure::Invalid(reason::NONCE_PRESENT));
        }
        let claims: LogoutTokenClaims =
            serde_json::from_value(serde_json::Value::Object(payload)).map_err(|_| malformed())?;

        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(CheckFailure::Invalid(reason::ISSUER));
        }
        let audience_ok = match &claims.aud {
            Some(Audiences::One(aud)) => aud == &self.settings.client_id,
            Some(Audiences::Many(auds)) => auds.iter().any(|aud| aud == &self.settings.client_id),
            None => false,
        };
        if !audience_ok {
            return Err(CheckFailure::Invalid(reason::AUDIENCE));
        }

        let leeway = Duration::seconds(self.settings.leeway_seconds);
        let max_age = Duration::seconds(self.settings.max_token_age_seconds);
        let issued_at = claims.iat.and_then(timestamp).ok_or(CheckFailure::Invalid(reason::IAT_MISSING))?;
        if issued_at > now + leeway {
            return Err(CheckFailure::Invalid(reason::ISSUED_IN_FUTURE));
        }
        if issued_at < now - max_age {
            return Err(CheckFailure::Invalid(reason::ISSUED_TOO_LONG_AGO));
        }
        let mut expires_at = issued_at + max_age;
        if let Some(exp) = claims.exp {
            let exp = timestamp(exp).ok_or_else(malformed)?;
            if now - leeway >= exp {
                return Err(CheckFailure::Invalid(reason::EXPIRED));
            }
            expires_at = expires_at.min(exp + leeway);
        }

        let has_event = claims
            .events
            .as_ref()
            .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
            .is_some_and(|event| event.is_object());
        if !has_event {
            return Err(CheckFailure::Invalid(reason::EVENTS));
        }
        let subject = claims.sub.filter(|sub| !sub.is_empty());
        let session_id = claims.sid.filter(|sid| !sid.is_empty());
        if subject.is_none() && session_id.is_none() {
            return Err(CheckFailure::Invalid(reason::SUBJECT));
        }
        let jti = claims.jti.filter(|jti| !jti.is_empty()).ok_or(CheckFailure::Invalid(reason::JTI_MISSING))?;

        Ok(LogoutClaims { subject, idp_session_id: session_id, jti, expires_at })
    }

    /// Key selection as the crate does for ID tokens: by `kid` when given,
    /// and by key type; exactly one candidate must remain.
    fn verify_jws_signature(
        &self,
        kid: Option<&str>,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CheckFailure> {
        let jwks = self.jwks.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let kid = kid.map(|kid| JsonWebKeyId::new(kid.to_owned()));
        let candidates: Vec<&CoreJsonWebKey> = jwks
            .keys()
            .iter()
            .filter(|key| kid.is_none() || key.key_id() == kid.as_ref())
            .filter(|key| alg.key_type().as_ref() == Some(key.key_type()))
            .filter(|key| key.key_use().is_none_or(|key_use| key_use.allows_signature()))
            .collect();
        match candidates.as_slice() {
            [] => Err(CheckFailure::UnknownKey),
            [key] => {
                key.verify_signature(alg, message, signature).map_err(|_| CheckFailure::Invalid(reason::SIGNATURE))
            }
            _ => Err(CheckFailure::Invalid(reason::UNKNOWN_KEY)),
        }
    }

    async fn refresh_jwks(&self) -> Result<(), LoginError> {
        {
            let mut last = self.last_jwks_refresh.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < MIN_JWKS_REFRESH_INTERVAL) {
                // Nothing new to learn so soon; the caller reports the key as unknown.
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let fresh = CoreJsonWebKeySet::fetch_async(&self.jwks_uri, &self.http)
            .await
            .map_err(|err| LoginError::Discovery(discovery_error_summary(&err)))?;
        tracing::info!(keys = fresh.keys().len(), "identity provider keys refreshed");
        *self.jwks.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// RP-initiated logout URL, or None if the provider has no
    /// `end_session_endpoint`.
    pub fn end_session_url(&self) -> Option<Url> {
        self.end_session_url_with_state(None)
    }

    /// As `end_session_url`, with a `state` echoed back to the post-logout URL.
    pub fn end_session_url_with_state(&self, state: Option<&str>) -> Option<Url> {
        let endpoint = self.end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(self.post_logout_redirect_url.clone());
        if let Some(state) = state {
            request = request.set_state(CsrfToken::new(state.to_owned()));
        }
        Some(request.http_get_url())
    }
}

#[derive(Clone, Copy)]
enum LevelFailure {
    TooLow(LoginLevel),
    Unknown,
}

fn store_level_failure(slot: &Mutex<Option<LevelFailure>>, failure: LevelFailure) {
    *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(failure);
}

/// Why a token check failed; `UnknownKey` asks for one JWKS refresh.
#[derive(Debug)]
enum CheckFailure {
    UnknownKey,
    Invalid(&'static str),
    Level(LoginError),
}

impl CheckFailure {
    fn from_claims_error(err: ClaimsVerificationError) -> Self {
        let why = match err {
            ClaimsVerificationError::Expired(message) => {
                if message == reason::ISSUED_IN_FUTURE {
                    reason::ISSUED_IN_FUTURE
                } else if message == reason::ISSUED_TOO_LONG_AGO {
                    reason::ISSUED_TOO_LONG_AGO
                } else {
                    reason::EXPIRED
                }
            }
            ClaimsVerificationError::InvalidAudience(_) => reason::AUDIENCE,
            ClaimsVerificationError::InvalidIssuer(_) => reason::ISSUER,
            ClaimsVerificationError::InvalidNonce(message) => {
                if message == reason::NONCE_MISSING {
                    reason::NONCE_MISSING
                } else {
                    reason::NONCE_MISMATCH
                }
            }
            ClaimsVerificationError::InvalidAuthContext(message) => {
                if message == reason::ACR_MISSING {
                    reason::ACR_MISSING
                } else {
                    reason::ACR_UNKNOWN
                }
            }
            ClaimsVerificationError::SignatureVerification(sig) => match sig {
                SignatureVerificationError::NoMatchingKey => return CheckFailure::UnknownKey,
                SignatureVerificationError::DisallowedAlg(_) | SignatureVerificationError::UnsupportedAlg(_) => {
                    reason::ALGORITHM
                }
                SignatureVerificationError::AmbiguousKeyId(_) => reason::UNKNOWN_KEY,
                _ => reason::SIGNATURE,
            },
            ClaimsVerificationError::InvalidSubject(_) => reason::SUBJECT,
            ClaimsVerificationError::Unsupported(_) => reason::UNSUPPORTED,
            _ => reason::MALFORMED,
        };
        CheckFailure::Invalid(why)
    }

    fn into_id_token_error(self) -> LoginError {
        match self {
            CheckFailure::UnknownKey => LoginError::InvalidIdToken(reason::UNKNOWN_KEY.into()),
            CheckFailure::Invalid(why) => LoginError::InvalidIdToken(why.into()),
            CheckFailure::Level(err) => err,
        }
    }

    fn into_logout_token_error(self) -> LoginError {
        match self {
            CheckFailure::UnknownKey => LoginError::InvalidLogoutToken(reason::UNKNOWN_KEY.into()),
            CheckFailure::Invalid(why) => LoginError::InvalidLogoutToken(why.into()),
            CheckFailure::Level(err) => err,
        }
    }
}

#[derive(Deserialize)]
struct LogoutTokenHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct LogoutTokenClaims {
    iss: Option<String>,
    aud: Option<Audiences>,
    iat: Option<i64>,
    exp: Option<i64>,
    jti: Option<String>,
    sub: Option<String>,
    sid: Option<String>,
    events: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

fn malformed() -> CheckFailure {
    CheckFailure::Invalid(reason::MALFORMED)
}

fn decode_json_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

fn parse_allowed_algs(names: &[String]) -> Result<Vec<CoreJwsSigningAlgorithm>, LoginError> {
    if names.is_empty() {
        return Err(LoginError::Configuration("allowed_algs is empty".into()));
    }
    names
        .iter()
        .map(|name| {
            let alg: CoreJwsSigningAlgorithm = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| LoginError::Configuration(format!("unknown signature algorithm {name}")))?;
            // Only asymmetric algorithms: HMAC would make the client secret a
            // token-minting key, and "none" is no signature at all.
            if alg.uses_shared_secret() || alg == CoreJwsSigningAlgorithm::None {
                return Err(LoginError::Configuration(format!("signature algorithm {name} is not allowed")));
            }
            Ok(alg)
        })
        .collect()
}

/// 32 random bytes from the injected RNG, base64url (43 characters).
fn random_token(rng: &dyn SecureRandom) -> Result<String, LoginError> {
    let mut bytes = [0u8; RANDOM_TOKEN_BYTES];
    rng.fill(&mut bytes).map_err(|_| LoginError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// `claims` request parameter (OIDC Core 5.5.1.1) asking for an essential
/// `acr` of the required level or higher.
fn essential_acr_claims_request(level: LoginLevel) -> String {
    let values: Vec<&str> = [LoginLevel::Low, LoginLevel::Substantial, LoginLevel::High]
        .into_iter()
        .filter(|candidate| *candidate >= level)
        .map(|candidate| candidate.as_acr())
        .collect();
    serde_json::json!({ "id_token": { "acr": { "essential": true, "values": values } } }).to_string()
}

fn discovery_error_summary<E: std::error::Error + 'static>(err: &openidconnect::DiscoveryError<E>) -> String {
    use openidconnect::DiscoveryError;
    match err {
        DiscoveryError::UrlParse(_) => "bad URL".into(),
        DiscoveryError::Request(_) => "request failed".into(),
        DiscoveryError::Parse(_) => "unparsable response".into(),
        DiscoveryError::Response(status, _, _) => format!("HTTP status {status}"),
        DiscoveryError::Validation(_) => "issuer mismatch".into(),
        DiscoveryError::Other(_) => "failed".into(),
        _ => "failed".into(),
    }
}

fn token_error_summary<RE: std::error::Error + 'static>(
    err: &RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match err {
        // The OAuth error code (e.g. invalid_grant) is safe to show; the
        // provider's free-text description is not ours to echo.
        RequestTokenError::ServerResponse(response) => {
            format!("provider refused: {}", response.error().as_ref())
        }
        RequestTokenError::Request(_) => "request failed".into(),
        RequestTokenError::Parse(_, _) => "unparsable response".into(),
        RequestTokenError::Other(_) => "failed".into(),
    }
}
