//! Smoke test of the test OpenID provider itself: a minimal relying party made
//! of plain HTTP requests (no tresor code) runs code flow + PKCE against it and
//! exercises the test control endpoints.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SecureRandom as _;
use serde_json::{Value, json};

use crate::support::oidc_provider::{LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL, TestClient, TestOidcProvider, persona_sub};

const CLIENT_ID: &str = "tresor";
const CLIENT_SECRET: &str = "smoke-test-secret-0123456789abcdef";
const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("random");
    B64.encode(bytes)
}

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().expect("client")
}

struct Jwt {
    header: Value,
    payload: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn decode_jwt(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "JWS compact form: {jwt}");
    let part = |s: &str| -> Value { serde_json::from_slice(&B64.decode(s).expect("base64url")).expect("JSON") };
    Jwt {
        header: part(parts[0]),
        payload: part(parts[1]),
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: B64.decode(parts[2]).expect("signature base64url"),
    }
}

async fn discovery(op: &TestOidcProvider) -> Value {
    reqwest::get(op.discovery_url()).await.expect("discovery").json().await.expect("discovery JSON")
}

async fn jwks(discovery: &Value) -> Value {
    reqwest::get(discovery["jwks_uri"].as_str().expect("jwks_uri"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks JSON")
}

/// Verifies an RS256 JWS against the JWKS key with the token's `kid`.
fn verify_rs256(jwks: &Value, jwt: &Jwt) -> bool {
    let kid = jwt.header["kid"].as_str().expect("kid in header");
    let Some(key) = jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid) else {
        return false;
    };
    let n = B64.decode(key["n"].as_str().expect("n")).expect("n b64");
    let e = B64.decode(key["e"].as_str().expect("e")).expect("e b64");
    ring::signature::RsaPublicKeyComponents { n, e }
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, jwt.signing_input.as_bytes(), &jwt.signature)
        .is_ok()
}

struct Login {
    code: String,
    verifier: String,
    nonce: String,
}

/// Authorization request up to the redirect URI (not followed): returns the code.
/// `acr` is an `acr_values` value, or `claims:<JSON>` for a claims parameter.
async fn authorize(op: &TestOidcProvider, disc: &Value, http: &reqwest::Client, account: &str, acr: &str) -> Login {
    let verifier = random_token();
    let challenge = B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    let state = random_token();
    let nonce = random_token();
    let mut url = url::Url::parse(disc["authorization_endpoint"].as_str().expect("authz ep")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", account);
    if let Some(claims) = acr.strip_prefix("claims:") {
        url.query_pairs_mut().append_pair("claims", claims);
    } else {
        url.query_pairs_mut().append_pair("acr_values", acr);
    }

    let callback = op.authorize_with(http, url.as_str()).await;
    assert!(callback.as_str().starts_with(REDIRECT_URI), "ended at {callback}");
    let param = |name: &str| callback.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("error"), None, "error redirect: {callback}");
    assert_eq!(param("state").as_deref(), Some(state.as_str()));
    assert_eq!(param("iss").as_deref(), Some(op.issuer.as_str()));
    Login { code: param("code").expect("code in redirect"), verifier, nonce }
}

/// Code exchange with client_secret_basic; returns the raw id_token.
async fn redeem(op: &TestOidcProvider, disc: &Value, login: &Login) -> String {
    let resp = reqwest::Client::new()
        .post(disc["token_endpoint"].as_str().expect("token ep"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", login.code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", login.verifier.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("token JSON");
    assert_eq!(status, 200, "token response {body}\nprovider stderr:\n{}", op.stderr());
    body["id_token"].as_str().expect("id_token").to_owned()
}

async fn login(op: &TestOidcProvider, disc: &Value, account: &str, acr: &str) -> (Jwt, Login) {
    let login = authorize(op, disc, &no_redirect_client(), account, acr).await;
    let token = redeem(op, disc, &login).await;
    (decode_jwt(&token), login)
}

fn client(backchannel_logout_uri: Option<String>) -> TestClient {
    TestClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:9/bye".into()],
        backchannel_logout_uri,
    }
}

#[tokio::test]
async fn oidc_provider_smoke_code_flow_acr_rotation_override() {
    let op = TestOidcProvider::start(vec![client(None)]).await;
    let disc = discovery(&op).await;
    assert_eq!(disc["issuer"], op.issuer.as_str());
    let acrs = disc["acr_values_supported"].as_array().expect("acrs");
    assert!(acrs.contains(&json!(LOA_HIGH)), "{disc}");
    assert_eq!(disc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(disc["backchannel_logout_supported"], true);
    let keys = jwks(&disc).await;

    // anna (max high) asks for substantial and gets it.
    let (id, l) = login(&op, &disc, "anna", LOA_SUBSTANTIAL).await;
    assert_eq!(id.payload["iss"], op.issuer.as_str());
    assert_eq!(id.payload["aud"], CLIENT_ID);
    assert_eq!(id.payload["nonce"], l.nonce.as_str());
    assert_eq!(id.payload["acr"], LOA_SUBSTANTIAL);
    assert_eq!(id.payload["sub"], persona_sub("anna"));
    // sid only for clients with back-channel logout; amr only on request (claims).
    assert!(id.payload.get("sid").is_none(), "{}", id.payload);
    assert!(verify_rs256(&keys, &id), "signature must verify against JWKS");
    let old_kid = id.header["kid"].as_str().expect("kid").to_owned();

    // clara (max low) asks for substantial and gets low.
    let (id, _) = login(&op, &disc, "clara", LOA_SUBSTANTIAL).await;
    assert_eq!(id.payload["acr"], LOA_LOW);
    assert_eq!(id.payload["sub"], persona_sub("clara"));

    // Essential acr via the claims parameter: no login loop, clara still gets low;
    // amr is there when asked for.
    let claims = json!({"id_token": {
        "acr": {"essential": true, "value": LOA_HIGH},
        "amr": null,
    }});
    let (id, _) = login(&op, &disc, "clara", &format!("claims:{claims}")).await;
    assert_eq!(id.payload["acr"], LOA_LOW);
    assert_eq!(id.payload["amr"], json!(["eid"]));
    let (id, _) = login(&op, &disc, "anna", &format!("claims:{claims}")).await;
    assert_eq!(id.payload["acr"], LOA_HIGH);

    // Key rotation: new kid in JWKS, old one gone; a code obtained before the
    // rotation is still redeemable and its ID token carries the new kid.
    let pending = authorize(&op, &disc, &no_redirect_client(), "ben", LOA_HIGH).await;
    op.rotate_keys().await;
    let rotated = jwks(&disc).await;
    let kids: Vec<&str> =
        rotated["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid")).collect();
    assert_eq!(kids.len(), 1);
    assert_ne!(kids[0], old_kid);
    let id = decode_jwt(&redeem(&op, &disc, &pending).await);
    assert_eq!(id.header["kid"], kids[0]);
    assert_eq!(id.payload["acr"], LOA_SUBSTANTIAL, "ben is capped at substantial");
    assert!(verify_rs256(&rotated, &id));
    assert!(!verify_rs256(&keys, &id), "old JWKS must not know the new kid");

    // Override: the next ID token has the given aud and an expired exp, and is
    // still validly signed with the current key.
    op.override_next_id_token(json!({"aud": "someone-else", "exp_offset_seconds": -3600})).await;
    let (id, _) = login(&op, &disc, "anna", LOA_HIGH).await;
    assert_eq!(id.payload["aud"], "someone-else");
    assert_eq!(id.payload["acr"], LOA_HIGH);
    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs())
            .expect("time");
    assert!(id.payload["exp"].as_i64().expect("exp") < now - 3000);
    assert_eq!(id.header["kid"], kids[0]);
    assert!(verify_rs256(&rotated, &id));
    // ... only the next one.
    let (id, _) = login(&op, &disc, "anna", LOA_HIGH).await;
    assert_eq!(id.payload["aud"], CLIENT_ID);

    // Without login_hint there is no headless login: a 400 page says why.
    let mut url = url::Url::parse(disc["authorization_endpoint"].as_str().expect("ep")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &B64.encode([7u8; 32]))
        .append_pair("code_challenge_method", "S256");
    let http = no_redirect_client();
    let mut resp = http.get(url).send().await.expect("auth");
    for _ in 0..5 {
        if !resp.status().is_redirection() {
            break;
        }
        let loc = resp.headers()["location"].to_str().expect("loc").to_owned();
        let next = url::Url::parse(&op.issuer).expect("iss").join(&loc).expect("join");
        resp = http.get(next).send().await.expect("follow");
    }
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("body").contains("login_hint"));
}

/// An RP stand-in that records the logout tokens POSTed to it.
async fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/backchannel-logout",
        axum::routing::post(move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
            let sink = Arc::clone(&sink);
            async move {
                if let Some(token) = form.get("logout_token") {
                    sink.lock().expect("lock").push(token.clone());
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/backchannel-logout"), seen)
}

#[tokio::test]
async fn oidc_provider_smoke_backchannel_logout() {
    let (uri, seen) = logout_receiver().await;
    let op = TestOidcProvider::start(vec![client(Some(uri))]).await;
    let disc = discovery(&op).await;
    let keys = jwks(&disc).await;

    let (id, _) = login(&op, &disc, "anna", LOA_HIGH).await;
    assert_eq!(op.backchannel_logout("anna", CLIENT_ID).await, 200);
    let token = op.last_logout_token().await;
    assert_eq!(*seen.lock().expect("lock"), vec![token.clone()]);
    let lt = decode_jwt(&token);
    assert_eq!(lt.header["typ"], "logout+jwt");
    assert!(verify_rs256(&keys, &lt));
    assert_eq!(lt.payload["iss"], op.issuer.as_str());
    assert_eq!(lt.payload["aud"], CLIENT_ID);
    assert_eq!(lt.payload["sub"], persona_sub("anna"));
    assert_eq!(lt.payload["sid"], id.payload["sid"]);
    assert!(lt.payload["jti"].is_string());
    assert!(lt.payload["nonce"].is_null());
    assert!(lt.payload["events"].get("http://schemas.openid.net/event/backchannel-logout").is_some());

    // An explicit sid (e.g. one the RP never saw) goes out as given.
    let v = op.backchannel_logout_with(json!({"client_id": CLIENT_ID, "sid": "unknown-sid"})).await;
    assert_eq!(v["status"], 200);
    assert_eq!(decode_jwt(v["logout_token"].as_str().expect("lt")).payload["sid"], "unknown-sid");

    // RP-initiated logout through the provider's own end-session endpoint also
    // reaches the RP on 127.0.0.1 by back-channel (SSRF guard disabled for tests).
    let http = no_redirect_client();
    let l = authorize(&op, &disc, &http, "ben", LOA_SUBSTANTIAL).await;
    let id_token = redeem(&op, &disc, &l).await;
    let sid = decode_jwt(&id_token).payload["sid"].clone();
    let end = disc["end_session_endpoint"].as_str().expect("end_session");
    let page = http
        .get(end)
        .query(&[("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", "http://127.0.0.1:9/bye")])
        .send()
        .await
        .expect("end session")
        .text()
        .await
        .expect("page");
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("xsrf in logout page: {page}"));
    let resp =
        http.post(format!("{end}/confirm")).form(&[("xsrf", xsrf), ("logout", "yes")]).send().await.expect("confirm");
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = resp.headers()["location"].to_str().expect("loc").to_owned();
    assert!(location.starts_with("http://127.0.0.1:9/bye"), "{location}");
    let seen = seen.lock().expect("lock").clone();
    let last = decode_jwt(seen.last().expect("a logout token"));
    assert_eq!(last.payload["sid"], sid, "provider's own logout token");
    assert_eq!(last.payload["sub"], persona_sub("ben"));
    assert_eq!(op.last_logout_token().await, *seen.last().expect("last"));
}
