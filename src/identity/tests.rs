//! Relying party against the real dev provider, served on a loopback port.

use std::sync::Arc;

use chrono::{Duration, Utc};
use ring::rand::SystemRandom;
use serde_json::{Value, json};
use url::Url;

use super::dev_idp::DevIdp;
use super::oidc::{
    BACKCHANNEL_LOGOUT_EVENT, IssuerSettings, LoginError, LoginStart, PendingAuth, RelyingParty, reason,
};
use crate::policy::LoginLevel;

const CLIENT_ID: &str = "tresor-dev";
const CLIENT_SECRET: &str = "dev-secret";
const REDIRECT_URI: &str = "https://vault.test/auth/callback";
const POST_LOGOUT_URI: &str = "https://vault.test/";

struct TestIdp {
    idp: Arc<DevIdp>,
    issuer: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start_idp() -> TestIdp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let issuer = format!("http://{address}/dev-idp");
    let idp = Arc::new(
        DevIdp::new(issuer.clone(), CLIENT_ID.into(), CLIENT_SECRET.into(), REDIRECT_URI.into(), &SystemRandom::new())
            .expect("dev idp"),
    );
    let app = axum::Router::new().nest("/dev-idp", idp.clone().router());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve dev idp");
    });
    TestIdp { idp, issuer, server }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client")
}

fn settings(issuer: &str) -> IssuerSettings {
    IssuerSettings::new(
        "dev",
        issuer,
        CLIENT_ID,
        Some(CLIENT_SECRET.to_owned()),
        REDIRECT_URI,
        POST_LOGOUT_URI,
        LoginLevel::Low,
    )
}

async fn relying_party(issuer: &str) -> RelyingParty {
    RelyingParty::discover(settings(issuer), http()).await.expect("discovery")
}

/// Follows the authorization URL (no redirects) and returns (code, state)
/// from the 302 to the redirect URI.
async fn authorize(start: &LoginStart) -> (String, String) {
    let response = http().get(start.authorize_url.clone()).send().await.expect("authorize request");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("location")
        .to_str()
        .expect("ascii location")
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let location = Url::parse(&location).expect("location URL");
    let query = |name: &str| location.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    assert_eq!(query("error"), None);
    (query("code").expect("code"), query("state").expect("state"))
}

/// begin_login with `persona` as login hint, then the authorization step.
async fn start_login(rp: &RelyingParty, persona: &str, requested: LoginLevel) -> (LoginStart, String) {
    let start = rp.begin_login(&SystemRandom::new(), requested, Some(persona)).expect("begin login");
    let (code, state) = authorize(&start).await;
    assert_eq!(state, start.state);
    (start, code)
}

fn assert_invalid_id_token(result: Result<impl std::fmt::Debug, LoginError>, why: &str) {
    match result {
        Err(LoginError::InvalidIdToken(reason)) => assert_eq!(reason, why),
        other => panic!("expected InvalidIdToken({why}), got {other:?}"),
    }
}

fn assert_invalid_logout_token(result: Result<impl std::fmt::Debug, LoginError>, why: &str) {
    match result {
        Err(LoginError::InvalidLogoutToken(reason)) => assert_eq!(reason, why),
        other => panic!("expected InvalidLogoutToken({why}), got {other:?}"),
    }
}

#[tokio::test]
async fn login_as_anna_is_high_with_a_stable_subject() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;

    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let first = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now()).await.expect("first login");
    assert_eq!(first.level, LoginLevel::High);
    assert!(first.idp_session_id.is_some());

    let (start, code) = start_login(&rp, "anna", LoginLevel::Substantial).await;
    let second =
        rp.finish_login(&code, &start.pending(), LoginLevel::Substantial, Utc::now()).await.expect("second login");
    assert_eq!(second.subject, first.subject);
    assert_eq!(second.level, LoginLevel::High);
    assert_ne!(second.idp_session_id, first.idp_session_id);

    let (start, code) = start_login(&rp, "ben", LoginLevel::Low).await;
    let ben = rp.finish_login(&code, &start.pending(), LoginLevel::Low, Utc::now()).await.expect("ben login");
    assert_eq!(ben.level, LoginLevel::Substantial);
    assert_ne!(ben.subject, first.subject);
    assert_eq!(rp.name(), "dev");
    assert_eq!(rp.issuer(), idp.issuer);
    assert_eq!(rp.min_level(), LoginLevel::Low);
}

#[tokio::test]
async fn begin_login_uses_fresh_long_state_nonce_and_pkce() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let rng = SystemRandom::new();
    let first = rp.begin_login(&rng, LoginLevel::Substantial, None).expect("first");
    let second = rp.begin_login(&rng, LoginLevel::Substantial, None).expect("second");
    for start in [&first, &second] {
        assert!(start.state.len() >= 32);
        assert!(start.nonce.len() >= 32);
        assert!(start.pkce_verifier.len() >= 43);
    }
    assert_ne!(first.state, second.state);
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.pkce_verifier, second.pkce_verifier);
    assert_ne!(first.state, first.nonce);

    let query: std::collections::HashMap<String, String> = first.authorize_url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["state"], first.state);
    assert_eq!(query["nonce"], first.nonce);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_ne!(query["code_challenge"], first.pkce_verifier);
    assert_eq!(query["acr_values"], LoginLevel::Substantial.as_acr());
    assert!(query["scope"].split(' ').any(|scope| scope == "openid"));
    let claims: Value = serde_json::from_str(&query["claims"]).expect("claims JSON");
    assert_eq!(claims["id_token"]["acr"]["essential"], json!(true));
    assert!(!query.contains_key("login_hint"));
}

#[tokio::test]
async fn requested_level_below_minimum_is_raised_to_minimum() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.min_level = LoginLevel::Substantial;
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let start = rp.begin_login(&SystemRandom::new(), LoginLevel::Low, Some("clara")).expect("begin");
    let query: std::collections::HashMap<String, String> = start.authorize_url.query_pairs().into_owned().collect();
    assert_eq!(query["acr_values"], LoginLevel::Substantial.as_acr());
    assert_eq!(query["login_hint"], "clara");

    let (code, _) = authorize(&start).await;
    let result = rp.finish_login(&code, &start.pending(), LoginLevel::Low, Utc::now()).await;
    match result {
        Err(LoginError::LevelTooLow { required, got }) => {
            assert_eq!(required, LoginLevel::Substantial);
            assert_eq!(got, Some(LoginLevel::Low));
        }
        other => panic!("expected LevelTooLow, got {other:?}"),
    }
}

#[tokio::test]
async fn persona_below_requested_level_is_level_too_low() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "ben", LoginLevel::High).await;
    let error = rp
        .finish_login(&code, &start.pending(), LoginLevel::High, Utc::now())
        .await
        .expect_err("ben is only substantial");
    assert_eq!(error.code(), "login_level_too_low");
    assert!(matches!(
        error,
        LoginError::LevelTooLow { required: LoginLevel::High, got: Some(LoginLevel::Substantial) }
    ));
}

#[tokio::test]
async fn wrong_nonce_is_rejected() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let pending = PendingAuth {
        nonce: "a-different-nonce-of-sufficient-length-0000".into(),
        pkce_verifier: start.pkce_verifier.clone(),
    };
    let result = rp.finish_login(&code, &pending, LoginLevel::High, Utc::now()).await;
    assert_invalid_id_token(result, reason::NONCE_MISMATCH);
}

#[tokio::test]
async fn code_is_single_use() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now()).await.expect("first use");
    let error = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now()).await.expect_err("second use");
    assert!(matches!(&error, LoginError::TokenExchange(message) if message.contains("invalid_grant")), "{error:?}");
    assert_eq!(error.code(), "token_exchange_failed");
}

#[tokio::test]
async fn pkce_verifier_mismatch_is_refused() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let other = rp.begin_login(&SystemRandom::new(), LoginLevel::High, None).expect("other start");
    let pending = PendingAuth { nonce: start.nonce.clone(), pkce_verifier: other.pkce_verifier };
    let error = rp.finish_login(&code, &pending, LoginLevel::High, Utc::now()).await.expect_err("wrong verifier");
    assert!(matches!(error, LoginError::TokenExchange(_)), "{error:?}");
}

#[tokio::test]
async fn expired_id_token_is_rejected() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let result = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now() + Duration::hours(1)).await;
    assert_invalid_id_token(result, reason::EXPIRED);
}

#[tokio::test]
async fn id_token_issued_too_long_ago_is_rejected() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.max_token_age_seconds = 10;
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let result = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now() + Duration::seconds(60)).await;
    assert_invalid_id_token(result, reason::ISSUED_TOO_LONG_AGO);
}

#[tokio::test]
async fn id_token_issued_in_the_future_is_rejected() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let result = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now() - Duration::minutes(10)).await;
    assert_invalid_id_token(result, reason::ISSUED_IN_FUTURE);
}

#[tokio::test]
async fn leeway_accepts_small_clock_skew() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    // Our clock 30 s behind the provider's: iat is 30 s "in the future".
    rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now() - Duration::seconds(30))
        .await
        .expect("within leeway");
}

#[tokio::test]
async fn relying_party_with_another_client_id_cannot_log_in() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.client_id = "someone-else".into();
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let start = rp.begin_login(&SystemRandom::new(), LoginLevel::High, Some("anna")).expect("begin");
    let response = http().get(start.authorize_url.clone()).send().await.expect("authorize");
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
}

/// ID-token claims as the dev provider issues them, for hand-made tokens.
fn id_claims(issuer: &str, nonce: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": issuer,
        "sub": "subject-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "acr": LoginLevel::High.as_acr(),
    })
}

#[tokio::test]
async fn id_token_for_another_audience_is_rejected() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.client_id = "someone-else".into();
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let token = idp.idp.sign_jwt_for_tests(Some("JWT"), &id_claims(&idp.issuer, "n")).expect("sign");
    let result = rp.validate_id_token(&token, "n", LoginLevel::High, Utc::now()).await;
    assert_invalid_id_token(result, reason::AUDIENCE);
}

#[tokio::test]
async fn extra_audiences_require_azp_equal_to_client_id() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let sign = |claims: &Value| idp.idp.sign_jwt_for_tests(Some("JWT"), claims).expect("sign");
    let mut claims = id_claims(&idp.issuer, "n");
    claims["aud"] = json!([CLIENT_ID, "other-service"]);
    let without_azp = sign(&claims);
    assert_invalid_id_token(
        rp.validate_id_token(&without_azp, "n", LoginLevel::High, Utc::now()).await,
        reason::AUTHORIZED_PARTY,
    );

    claims["azp"] = json!("other-service");
    let foreign_azp = sign(&claims);
    assert_invalid_id_token(
        rp.validate_id_token(&foreign_azp, "n", LoginLevel::High, Utc::now()).await,
        reason::AUTHORIZED_PARTY,
    );

    claims["azp"] = json!(CLIENT_ID);
    let own_azp = sign(&claims);
    let login = rp.validate_id_token(&own_azp, "n", LoginLevel::High, Utc::now()).await.expect("azp is us");
    assert_eq!(login.subject, "subject-1");
}

#[tokio::test]
async fn wrong_issuer_missing_acr_and_unknown_acr_are_rejected() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let sign = |claims: &Value| idp.idp.sign_jwt_for_tests(Some("JWT"), claims).expect("sign");

    let mut claims = id_claims(&idp.issuer, "n");
    claims["iss"] = json!("https://evil.example");
    assert_invalid_id_token(
        rp.validate_id_token(&sign(&claims), "n", LoginLevel::Low, Utc::now()).await,
        reason::ISSUER,
    );

    let mut claims = id_claims(&idp.issuer, "n");
    claims.as_object_mut().expect("object").remove("acr");
    let result = rp.validate_id_token(&sign(&claims), "n", LoginLevel::Low, Utc::now()).await;
    assert!(matches!(result, Err(LoginError::LevelTooLow { required: LoginLevel::Low, got: None })), "{result:?}");

    let mut claims = id_claims(&idp.issuer, "n");
    claims["acr"] = json!("urn:example:loa:gold");
    let result = rp.validate_id_token(&sign(&claims), "n", LoginLevel::Low, Utc::now()).await;
    assert!(matches!(result, Err(LoginError::LevelTooLow { got: None, .. })), "{result:?}");

    let mut claims = id_claims(&idp.issuer, "n");
    claims.as_object_mut().expect("object").remove("nonce");
    assert_invalid_id_token(
        rp.validate_id_token(&sign(&claims), "n", LoginLevel::Low, Utc::now()).await,
        reason::NONCE_MISSING,
    );
}

#[tokio::test]
async fn tampered_id_token_is_rejected() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let token = idp.idp.sign_jwt_for_tests(Some("JWT"), &id_claims(&idp.issuer, "n")).expect("sign");
    let mut forged_claims = id_claims(&idp.issuer, "n");
    forged_claims["sub"] = json!("someone-else");
    let forged_payload =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged_claims.to_string());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_invalid_id_token(rp.validate_id_token(&forged, "n", LoginLevel::Low, Utc::now()).await, reason::SIGNATURE);
}

#[tokio::test]
async fn algorithm_outside_allow_list_is_rejected() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.allowed_algs = vec!["RS256".into()];
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let result = rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now()).await;
    assert_invalid_id_token(result, reason::ALGORITHM);
}

#[tokio::test]
async fn symmetric_or_none_algorithms_are_refused_in_configuration() {
    let idp = start_idp().await;
    for alg in ["HS256", "none", "XX999"] {
        let mut settings = settings(&idp.issuer);
        settings.allowed_algs = vec!["ES256".into(), alg.into()];
        let error = RelyingParty::discover(settings, http()).await.expect_err("must refuse");
        assert_eq!(error.code(), "idp_configuration_invalid", "{alg}");
    }
}

#[tokio::test]
async fn discovery_of_a_wrong_issuer_fails() {
    let idp = start_idp().await;
    let error =
        RelyingParty::discover(settings(&format!("{}/other", idp.issuer)), http()).await.expect_err("no such issuer");
    assert_eq!(error.code(), "idp_discovery_failed");
}

#[tokio::test]
async fn rotated_provider_key_is_fetched_on_unknown_kid() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    idp.idp.rotate_signing_key(&SystemRandom::new()).expect("rotate");
    let (start, code) = start_login(&rp, "anna", LoginLevel::High).await;
    let login =
        rp.finish_login(&code, &start.pending(), LoginLevel::High, Utc::now()).await.expect("login after key rotation");
    assert_eq!(login.level, LoginLevel::High);
}

#[tokio::test]
async fn persona_page_without_hint_and_form_choice() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let start = rp.begin_login(&SystemRandom::new(), LoginLevel::Low, None).expect("begin");
    let response = http().get(start.authorize_url.clone()).send().await.expect("authorize");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let page = response.text().await.expect("page");
    assert!(page.contains("Test login — not a real eID"));
    for persona in DevIdp::personas() {
        assert!(page.contains(&format!(r#"id="persona-{}""#, persona.id)));
        assert!(page.contains(&format!(r#"for="persona-{}""#, persona.id)));
    }
    assert!(page.contains(r#"type="submit""#));
    assert!(!page.contains("<script"));

    // Submit the form as a browser would: all hidden fields plus a persona.
    let mut form: Vec<(String, String)> = start.authorize_url.query_pairs().into_owned().collect();
    form.retain(|(name, _)| name != "claims" && name != "login_hint");
    form.push(("persona".into(), "clara".into()));
    let response = http().post(format!("{}/authorize/choose", idp.issuer)).form(&form).send().await.expect("choose");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = Url::parse(response.headers()[reqwest::header::LOCATION].to_str().expect("ascii")).expect("url");
    let code =
        location.query_pairs().find(|(name, _)| name == "code").map(|(_, value)| value.into_owned()).expect("code");
    let login = rp.finish_login(&code, &start.pending(), LoginLevel::Low, Utc::now()).await.expect("clara login");
    assert_eq!(login.level, LoginLevel::Low);
}

#[tokio::test]
async fn authorize_without_pkce_is_refused_by_redirect() {
    let idp = start_idp().await;
    let url = format!(
        "{}/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&scope=openid&state=s1&nonce=n1",
        idp.issuer,
        url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>(),
    );
    let response = http().get(url).send().await.expect("authorize");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    assert!(location.contains("error=invalid_request"), "{location}");
    assert!(location.contains("state=s1"), "{location}");
    assert!(!location.contains("code="), "{location}");
}

#[tokio::test]
async fn end_session_url_points_at_provider_and_comes_back() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let url = rp.end_session_url_with_state(Some("bye-state")).expect("end session");
    assert!(url.as_str().starts_with(&format!("{}/logout", idp.issuer)));
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["post_logout_redirect_uri"], POST_LOGOUT_URI);
    assert!(rp.end_session_url().is_some());

    let response = http().get(url).send().await.expect("logout");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    assert_eq!(location, format!("{POST_LOGOUT_URI}?state=bye-state"));
}

/// A change to valid claims that must make a token invalid.
type ClaimsMutation = Box<dyn Fn(&mut Value)>;

fn logout_claims(issuer: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": "logout-1",
        "sub": "subject-1",
        "sid": "session-1",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

#[tokio::test]
async fn logout_tokens_are_validated() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    let sign = |claims: &Value| idp.idp.sign_jwt_for_tests(Some("logout+jwt"), claims).expect("sign");
    let now = Utc::now();

    let valid = rp.verify_logout_token(&sign(&logout_claims(&idp.issuer)), now).await.expect("valid logout token");
    assert_eq!(valid.subject.as_deref(), Some("subject-1"));
    assert_eq!(valid.idp_session_id.as_deref(), Some("session-1"));
    assert_eq!(valid.jti, "logout-1");
    assert!(valid.expires_at > now);

    // sid alone is enough; aud may be a list.
    let mut claims = logout_claims(&idp.issuer);
    claims.as_object_mut().expect("object").remove("sub");
    claims["aud"] = json!(["x", CLIENT_ID]);
    let sid_only = rp.verify_logout_token(&sign(&claims), now).await.expect("sid only");
    assert_eq!(sid_only.subject, None);

    let refused: Vec<(&str, ClaimsMutation)> = vec![
        (
            reason::EVENTS,
            Box::new(|claims| {
                claims.as_object_mut().expect("object").remove("events");
            }),
        ),
        (reason::EVENTS, Box::new(|claims| claims["events"] = json!({ "http://example/other": {} }))),
        (reason::NONCE_PRESENT, Box::new(|claims| claims["nonce"] = json!("n"))),
        (reason::AUDIENCE, Box::new(|claims| claims["aud"] = json!("someone-else"))),
        (reason::ISSUER, Box::new(|claims| claims["iss"] = json!("https://evil.example"))),
        (
            reason::EXPIRED,
            Box::new(|claims| {
                claims["exp"] = json!(Utc::now().timestamp() - 3600);
            }),
        ),
        (
            reason::ISSUED_TOO_LONG_AGO,
            Box::new(|claims| {
                claims["iat"] = json!(Utc::now().timestamp() - 3600);
                claims.as_object_mut().expect("object").remove("exp");
            }),
        ),
        (reason::ISSUED_IN_FUTURE, Box::new(|claims| claims["iat"] = json!(Utc::now().timestamp() + 3600))),
        (
            reason::JTI_MISSING,
            Box::new(|claims| {
                claims.as_object_mut().expect("object").remove("jti");
            }),
        ),
        (
            reason::SUBJECT,
            Box::new(|claims| {
                let claims = claims.as_object_mut().expect("object");
                claims.remove("sub");
                claims.remove("sid");
            }),
        ),
    ];
    for (why, mutate) in refused {
        let mut claims = logout_claims(&idp.issuer);
        mutate(&mut claims);
        assert_invalid_logout_token(rp.verify_logout_token(&sign(&claims), now).await, why);
    }

    // Expired by our injected clock rather than by the claims.
    assert_invalid_logout_token(
        rp.verify_logout_token(&sign(&logout_claims(&idp.issuer)), now + Duration::minutes(4)).await,
        reason::EXPIRED,
    );

    // An ID token is not a logout token.
    let wrong_type = idp.idp.sign_jwt_for_tests(Some("JWT"), &logout_claims(&idp.issuer)).expect("sign");
    assert_invalid_logout_token(rp.verify_logout_token(&wrong_type, now).await, reason::TYPE);

    // Tampered payload.
    let token = sign(&logout_claims(&idp.issuer));
    let parts: Vec<&str> = token.split('.').collect();
    let mut other = logout_claims(&idp.issuer);
    other["sub"] = json!("victim");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, other.to_string()),
        parts[2]
    );
    assert_invalid_logout_token(rp.verify_logout_token(&forged, now).await, reason::SIGNATURE);
    assert_invalid_logout_token(rp.verify_logout_token("not.a-token", now).await, reason::MALFORMED);
}

#[tokio::test]
async fn logout_token_with_new_key_triggers_one_jwks_refresh() {
    let idp = start_idp().await;
    let rp = relying_party(&idp.issuer).await;
    idp.idp.rotate_signing_key(&SystemRandom::new()).expect("rotate");
    let token = idp.idp.sign_jwt_for_tests(Some("logout+jwt"), &logout_claims(&idp.issuer)).expect("sign");
    rp.verify_logout_token(&token, Utc::now()).await.expect("accepted after refresh");
}

#[tokio::test]
async fn logout_token_with_disallowed_algorithm_is_refused() {
    let idp = start_idp().await;
    let mut settings = settings(&idp.issuer);
    settings.allowed_algs = vec!["RS256".into(), "EdDSA".into()];
    let rp = RelyingParty::discover(settings, http()).await.expect("discovery");
    let token = idp.idp.sign_jwt_for_tests(Some("logout+jwt"), &logout_claims(&idp.issuer)).expect("sign");
    assert_invalid_logout_token(rp.verify_logout_token(&token, Utc::now()).await, reason::ALGORITHM);
}

#[test]
fn debug_output_hides_secrets() {
    let mut settings = settings("https://idp.example");
    settings.client_secret = Some("top-secret-value".into());
    assert!(!format!("{settings:?}").contains("top-secret-value"));
    let pending = PendingAuth { nonce: "nonce-value".into(), pkce_verifier: "verifier-value".into() };
    let printed = format!("{pending:?}");
    assert!(!printed.contains("nonce-value") && !printed.contains("verifier-value"));
}
