//! Login with the online ID end to end: the real vault against the real test
//! OpenID provider, one fresh app per test. Covers the security rules of
//! `http::auth` and `http::session` with a negative test each: login level,
//! nonce, state (replay, other browser), audience, expiry, key rotation,
//! back-channel logout, session lifetime, CSRF on logout, open redirects and
//! data minimisation.

use chrono::Duration;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tresor::audit::{Action, AuditEntry};
use tresor::http::session::CookieSettings;
use tresor::policy::LoginLevel;
use tresor::store::AuditFilter;
use url::Url;

use crate::support::app::{Backend, CLIENT_ID, ISSUER_NAME, TestApp, TestAppOptions};
use crate::support::oidc_provider::{persona_name, persona_sub};

/// The session cookie's name on plain-HTTP loopback (see `CookieSettings`).
const SESSION_COOKIE: &str = "tresor";
/// The cookie that binds a login's `state` to the browser that started it.
const BINDING_COOKIE: &str = "tresor_login";

// --- 1. success, level and cookie flags ---------------------------------------

#[tokio::test]
async fn anna_asking_for_high_gets_a_high_session_with_a_httponly_lax_cookie() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let response = login_without_following(&app, &browser, "anna", "&level=high").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/evidence");
    let session_cookie = set_cookie_named(&response, SESSION_COOKIE).expect("a session cookie is set");
    assert!(has_attribute(&session_cookie, "httponly"), "{session_cookie}");
    assert!(has_attribute(&session_cookie, "samesite=lax"), "{session_cookie}");
    assert!(has_attribute(&session_cookie, "path=/"), "{session_cookie}");
    assert!(!cookie_attributes(&session_cookie).iter().any(|a| a.starts_with("domain")), "{session_cookie}");
    // Plain http on loopback: a Secure cookie would never be sent back over
    // http, so the dev/test deployment cannot set it. Over https the cookie is
    // `__Host-tresor` with Secure (asserted in the test below).
    assert!(!has_attribute(&session_cookie, "secure"), "{session_cookie}");
    // The binding cookie has done its job and is cleared.
    let binding = set_cookie_named(&response, BINDING_COOKIE).expect("the binding cookie is cleared");
    assert!(has_attribute(&binding, "max-age=0"), "{binding}");

    let session = session_info(&app, &browser).await;
    assert_eq!(session["login_level"], "high");
    assert!(session["csrf_token"].as_str().is_some_and(|token| token.len() >= 32));
    assert_eq!(app.count_rows("sessions").await, 1);
    assert_eq!(app.count_rows("citizens").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_login_binding_cookie_is_httponly_and_lax_so_it_survives_the_return_from_the_provider() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let response = start_login(&app, &browser, "anna", "").await;

    let binding = set_cookie_named(&response, BINDING_COOKIE).expect("a binding cookie");
    assert!(has_attribute(&binding, "httponly"), "{binding}");
    // Strict would drop the cookie on the cross-site navigation back from the
    // provider, and every login would fail with invalid_state.
    assert!(has_attribute(&binding, "samesite=lax"), "{binding}");
    assert!(has_attribute(&binding, "max-age=600"), "{binding}");
    app.stop().await;
}

#[test]
fn over_https_the_session_cookie_is_host_prefixed_and_secure() {
    let https = CookieSettings::for_public_url("https://tresor.stadt.example");
    assert_eq!(https.session_name, "__Host-tresor");
    assert!(https.secure);
    let header = https.set(https.session_name, "value", None);
    let header = header.to_str().expect("ASCII header");
    // `__Host-` cookies are only accepted with Secure, Path=/ and no Domain.
    assert!(header.starts_with("__Host-tresor=value;"), "{header}");
    assert!(header.contains("; Secure"), "{header}");
    assert!(header.contains("; Path=/"), "{header}");
    assert!(header.contains("; HttpOnly"), "{header}");
    assert!(header.contains("; SameSite=Lax"), "{header}");
    assert!(!header.to_ascii_lowercase().contains("domain"), "{header}");

    let http = CookieSettings::for_public_url("http://127.0.0.1:8080");
    assert_eq!(http.session_name, SESSION_COOKIE);
    assert!(!http.secure);
    assert!(!http.set(http.session_name, "value", None).to_str().expect("ASCII header").contains("Secure"));
}

// --- 2. login level -------------------------------------------------------------

#[tokio::test]
async fn clara_asking_for_high_is_refused_with_login_level_too_low() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let response = login_without_following(&app, &browser, "clara", "&level=high").await;

    assert_error(response, StatusCode::FORBIDDEN, "login_level_too_low").await;
    assert_no_session(&app, &browser).await;
    assert_eq!(app.count_rows("citizens").await, 0, "a refused login creates no account");
    app.stop().await;
}

#[tokio::test]
async fn an_issuer_with_minimum_substantial_refuses_clara_without_a_level_parameter() {
    let app = TestApp::start_with(TestAppOptions {
        min_level: LoginLevel::Substantial,
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    let clara = TestApp::no_redirect_browser();

    let response = login_without_following(&app, &clara, "clara", "").await;

    assert_error(response, StatusCode::FORBIDDEN, "login_level_too_low").await;
    assert_no_session(&app, &clara).await;

    // Control: the issuer is usable at its minimum level.
    let ben = TestApp::no_redirect_browser();
    let response = login_without_following(&app, &ben, "ben", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_info(&app, &ben).await["login_level"], "substantial");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_level_parameter_is_refused_before_the_provider() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let response = browser
        .get(app.url(&format!("/login?{}", login_query("anna", "&level=ultra"))))
        .send()
        .await
        .expect("HTTP request");

    assert_error(response, StatusCode::BAD_REQUEST, "invalid_level").await;
    assert_eq!(app.count_rows("pending_logins").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_login_hint_with_invisible_format_characters_is_refused_before_the_provider() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    for hint in ["anna%E2%80%AE", "an%E2%80%8Bna", "anna%EF%BB%BF", "anna%0A"] {
        let response =
            browser.get(app.url(&format!("/login?{}", login_query(hint, "")))).send().await.expect("HTTP request");
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_login_hint").await;
    }
    assert_eq!(app.count_rows("pending_logins").await, 0);
    app.stop().await;
}

// --- 3. nonce -------------------------------------------------------------------

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    app.provider.override_next_id_token(json!({ "nonce": "other" })).await;

    let response = login_without_following(&app, &browser, "anna", "").await;

    assert_error(response, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    assert_no_session(&app, &browser).await;
    assert_eq!(app.count_rows("citizens").await, 0);
    app.stop().await;
}

// --- 4. state ---------------------------------------------------------------------

#[tokio::test]
async fn a_callback_url_works_once_and_its_replay_is_refused_with_invalid_state() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    let (callback, binding) = callback_with_binding(&app, &browser, "anna", "").await;

    let first = get(&browser, callback.as_str()).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), "/evidence");
    let session_after_first = app.count_rows("sessions").await;

    // The browser's binding cookie was cleared by the first callback; replay
    // with it presented explicitly so the refusal is the spent state, not a
    // missing cookie.
    let replay =
        Client::new().get(callback.as_str()).header(COOKIE, format!("{BINDING_COOKIE}={binding}")).send().await;
    assert_error(replay.expect("HTTP request"), StatusCode::BAD_REQUEST, "invalid_state").await;
    // And the same browser trying again.
    assert_error(get(&browser, callback.as_str()).await, StatusCode::BAD_REQUEST, "invalid_state").await;
    assert_eq!(app.count_rows("sessions").await, session_after_first, "a replay starts no session");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_state_is_refused_with_invalid_state() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    let callback = callback_for(&app, &browser, "anna", "").await;
    let code = query_value(&callback, "code").expect("code");

    let forged = app.url(&format!("/auth/callback?code={code}&state=not-a-state-we-issued"));
    assert_error(get(&browser, &forged).await, StatusCode::BAD_REQUEST, "invalid_state").await;
    let without_state = app.url(&format!("/auth/callback?code={code}"));
    assert_error(get(&browser, &without_state).await, StatusCode::BAD_REQUEST, "invalid_state").await;
    assert_no_session(&app, &browser).await;
    app.stop().await;
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_is_refused_and_does_not_burn_the_login() {
    let app = TestApp::start(Backend::Sqlite).await;
    let victim = TestApp::no_redirect_browser();
    let callback = callback_for(&app, &victim, "anna", "").await;

    // Login CSRF: the attacker's browser has no binding cookie...
    let stranger = TestApp::no_redirect_browser();
    assert_error(get(&stranger, callback.as_str()).await, StatusCode::BAD_REQUEST, "invalid_state").await;
    // ...or a binding cookie of a login of its own.
    let attacker = TestApp::no_redirect_browser();
    let _attackers_own = start_login(&app, &attacker, "clara", "").await;
    assert_error(get(&attacker, callback.as_str()).await, StatusCode::BAD_REQUEST, "invalid_state").await;
    assert_no_session(&app, &stranger).await;
    assert_no_session(&app, &attacker).await;
    assert_eq!(app.count_rows("sessions").await, 0);

    // The browser that started the login can still finish it.
    let finished = get(&victim, callback.as_str()).await;
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_info(&app, &victim).await["login_level"], "low");
    app.stop().await;
}

// --- 5. audience and expiry ----------------------------------------------------------

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    app.provider.override_next_id_token(json!({ "aud": "another-relying-party" })).await;

    let response = login_without_following(&app, &browser, "anna", "").await;

    assert_error(response, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    assert_no_session(&app, &browser).await;
    app.stop().await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    app.provider.override_next_id_token(json!({ "exp_offset_seconds": -3600 })).await;

    let response = login_without_following(&app, &browser, "anna", "").await;

    assert_error(response, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    assert_no_session(&app, &browser).await;
    app.stop().await;
}

#[tokio::test]
async fn a_login_returning_after_two_hours_is_refused_as_an_expired_pending_login() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    let callback = callback_for(&app, &browser, "anna", "").await;

    app.clock.advance(Duration::hours(2));
    let response = get(&browser, callback.as_str()).await;

    // Documented outcomes of a late return: invalid_state (the pending login
    // outlived its 10 minutes) or invalid_id_token (the token is too old).
    // The pending login is checked first, so it is invalid_state.
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_state").await;
    assert_no_session(&app, &browser).await;
    app.stop().await;
}

#[tokio::test]
async fn an_id_token_older_than_the_maximum_token_age_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();
    let callback = callback_for(&app, &browser, "anna", "").await;

    // Within the 10 minutes of a pending login, but past the 300 s (+60 s
    // leeway) a token may be old when the vault sees it.
    app.clock.advance(Duration::minutes(7));
    let response = get(&browser, callback.as_str()).await;

    assert_error(response, StatusCode::BAD_REQUEST, "invalid_id_token").await;
    assert_no_session(&app, &browser).await;
    app.stop().await;
}

// --- 6. key rotation --------------------------------------------------------------

#[tokio::test]
async fn after_the_provider_rotates_its_key_the_next_login_still_succeeds() {
    let app = TestApp::start(Backend::Sqlite).await;
    let first = TestApp::no_redirect_browser();
    assert_eq!(login_without_following(&app, &first, "anna", "").await.status(), StatusCode::SEE_OTHER);

    let new_kid = app.provider.rotate_keys_kid().await;
    let second = TestApp::no_redirect_browser();
    let callback = callback_for(&app, &second, "anna", "&level=high").await;
    let response = get(&second, callback.as_str()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login signed with the new key {new_kid}");
    assert_eq!(session_info(&app, &second).await["login_level"], "high");
    app.stop().await;
}

// --- 7. back-channel logout ------------------------------------------------------

#[tokio::test]
async fn back_channel_logout_ends_the_session_and_its_token_cannot_be_replayed() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "&level=high").await;
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);

    let status = app.provider.backchannel_logout("anna", CLIENT_ID).await;

    assert_eq!(status, 200);
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0);
    assert_eq!(app.count_rows("logout_tokens").await, 1, "the jti is remembered");

    let replayed = app.provider.last_logout_token().await;
    let response = post_logout_token(&app, &replayed).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    app.stop().await;
}

#[tokio::test]
async fn back_channel_logout_with_an_invalid_token_is_refused_and_keeps_the_session() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;

    let garbage = post_logout_token(&app, "not.a.token").await;
    assert_error(garbage, StatusCode::BAD_REQUEST, "invalid_request").await;
    let missing = Client::new().post(app.url(&format!("/auth/backchannel-logout/{ISSUER_NAME}"))).form(&[("x", "y")]);
    assert_error(missing.send().await.expect("HTTP request"), StatusCode::BAD_REQUEST, "invalid_request").await;
    // Correctly signed but for another client.
    let foreign = app
        .provider
        .backchannel_logout_with(json!({
            "client_id": CLIENT_ID, "account": "anna", "overrides": { "aud": "another-relying-party" }
        }))
        .await;
    assert_eq!(foreign["status"], 400, "{foreign}");
    let forged = app
        .provider
        .backchannel_logout_with(
            json!({ "client_id": CLIENT_ID, "account": "anna", "overrides": { "corrupt_signature": true } }),
        )
        .await;
    assert_eq!(forged["status"], 400, "{forged}");

    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);
    app.stop().await;
}

// --- 7b. audit before effect --------------------------------------------------------

/// Entries of `action` (stored order) as (actor kind, subject, reason).
async fn session_entries(app: &TestApp, action: Action) -> Vec<(String, Option<String>, Option<String>)> {
    let filter = AuditFilter { action: Some(action.as_str()), ..AuditFilter::default() };
    let stored = app.store.audit_entries(&filter, 1000, None).await.expect("audit entries");
    stored
        .iter()
        .map(|row| {
            let entry = AuditEntry::from_stored(row).expect("body").expect("parses");
            (row.actor_kind.clone(), entry.event.targets.subject, entry.event.reason)
        })
        .collect()
}

#[tokio::test]
async fn a_first_login_creates_the_account_only_after_its_entry_is_durable() {
    let app = TestApp::start(Backend::Sqlite).await;
    app.audit_fault.set_failing(true);
    let browser = TestApp::no_redirect_browser();
    let response = login_without_following(&app, &browser, "anna", "").await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable").await;
    assert_eq!(app.count_rows("citizens").await, 0, "no account without its login entry");
    assert_eq!(app.count_rows("sessions").await, 0);
    app.audit_fault.set_failing(false);
    let anna = logged_in(&app, "anna", "").await;
    let citizen = session_info(&app, &anna).await["citizen_id"].as_str().unwrap().to_owned();
    assert_eq!(app.count_rows("citizens").await, 1);
    let logins = session_entries(&app, Action::Login).await;
    assert_eq!(logins, [("citizen".to_owned(), Some(citizen), None)]);
    app.stop().await;
}

#[tokio::test]
async fn a_logout_is_recorded_before_the_session_ends_and_fails_closed() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;
    let citizen = session_info(&app, &anna).await["citizen_id"].as_str().unwrap().to_owned();
    let csrf = app.csrf(&anna).await;
    let logout = || anna.post(app.url("/api/v1/logout")).header("X-CSRF-Token", &csrf).send();
    app.audit_fault.set_failing(true);
    assert_error(logout().await.expect("HTTP request"), StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable").await;
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK, "the session stays until its logout is recorded");
    assert!(session_entries(&app, Action::Logout).await.is_empty());
    app.audit_fault.set_failing(false);
    assert_eq!(logout().await.expect("HTTP request").status(), StatusCode::NO_CONTENT);
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(session_entries(&app, Action::Logout).await, [("citizen".to_owned(), Some(citizen), None)]);
    app.stop().await;
}

#[tokio::test]
async fn a_back_channel_logout_is_recorded_for_the_citizen_and_a_retry_after_a_failure_works() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;
    let citizen = session_info(&app, &anna).await["citizen_id"].as_str().unwrap().to_owned();
    app.audit_fault.set_failing(true);
    assert_eq!(app.provider.backchannel_logout("anna", CLIENT_ID).await, 503);
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK, "nothing ends without its entry");
    assert_eq!(app.count_rows("logout_tokens").await, 0, "a failed logout does not burn its token");
    app.audit_fault.set_failing(false);
    // The provider delivers the same token again.
    let token = app.provider.last_logout_token().await;
    assert_eq!(post_logout_token(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    let expected = ("system".to_owned(), Some(citizen), Some("backchannel_logout".to_owned()));
    assert_eq!(session_entries(&app, Action::Logout).await, [expected]);
    assert_error(post_logout_token(&app, &token).await, StatusCode::BAD_REQUEST, "invalid_request").await;
    app.stop().await;
}

// --- 8. sessions ---------------------------------------------------------------------

#[tokio::test]
async fn every_login_gets_a_new_session_id_and_the_old_one_stops_working() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let first = login_without_following(&app, &browser, "anna", "").await;
    let first_id = cookie_value(&set_cookie_named(&first, SESSION_COOKIE).expect("first session cookie"));
    let second = login_without_following(&app, &browser, "anna", "&level=high").await;
    let second_id = cookie_value(&set_cookie_named(&second, SESSION_COOKIE).expect("second session cookie"));

    assert_ne!(first_id, second_id);
    assert_eq!(session_status_with_cookie(&app, &first_id).await, StatusCode::UNAUTHORIZED);
    assert_eq!(session_status_with_cookie(&app, &second_id).await, StatusCode::OK);
    assert_eq!(app.count_rows("sessions").await, 1, "the replaced session is deleted");
    assert_eq!(session_info(&app, &browser).await["login_level"], "high");
    app.stop().await;
}

#[tokio::test]
async fn a_session_ends_after_thirty_minutes_without_use() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;

    // Use keeps it alive past the idle timeout in total...
    app.clock.advance(Duration::minutes(29));
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);
    app.clock.advance(Duration::minutes(29));
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);
    // ...but 31 minutes of silence end it.
    app.clock.advance(Duration::minutes(31));
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0, "the expired session is deleted");
    app.stop().await;
}

#[tokio::test]
async fn a_session_in_constant_use_ends_after_twelve_hours() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;

    // Touching every 20 minutes keeps it under the idle timeout...
    let step = Duration::minutes(20);
    let mut elapsed = Duration::zero();
    while elapsed + step < Duration::hours(12) {
        app.clock.advance(step);
        elapsed += step;
        assert_eq!(session_status(&app, &anna).await, StatusCode::OK, "after {} minutes", elapsed.num_minutes());
    }
    // ...until one minute past 12 hours (21 minutes after the last use, so
    // only the absolute timeout can end it).
    app.clock.advance(Duration::hours(12) - elapsed + Duration::minutes(1));
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn api_logout_with_the_csrf_token_ends_the_session() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;
    let csrf = app.csrf(&anna).await;

    let response =
        anna.post(app.url("/api/v1/logout")).header("X-CSRF-Token", &csrf).send().await.expect("HTTP request");

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie_named(&response, SESSION_COOKIE).expect("the session cookie is cleared");
    assert!(has_attribute(&cleared, "max-age=0"), "{cleared}");
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn logout_without_or_with_a_wrong_csrf_token_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;
    let csrf = app.csrf(&anna).await;

    let without = anna.post(app.url("/api/v1/logout")).send().await.expect("HTTP request");
    assert_error(without, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
    let wrong = anna
        .post(app.url("/api/v1/logout"))
        .header("X-CSRF-Token", format!("{csrf}x"))
        .send()
        .await
        .expect("HTTP request");
    assert_error(wrong, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
    let form_without = anna.post(app.url("/logout")).form(&[("lang", "de")]).send().await.expect("HTTP request");
    assert_error(form_without, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
    let form_wrong = anna.post(app.url("/logout")).form(&[("csrf", "guess")]).send().await.expect("HTTP request");
    assert_error(form_wrong, StatusCode::FORBIDDEN, "csrf_token_invalid").await;

    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);
    assert_eq!(app.count_rows("sessions").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn page_logout_ends_the_session_and_continues_at_the_providers_end_session_endpoint() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "").await;
    let csrf = app.csrf(&anna).await;
    let discovery: Value = Client::new()
        .get(app.provider.discovery_url())
        .send()
        .await
        .expect("HTTP request")
        .json()
        .await
        .expect("discovery JSON");
    let end_session_endpoint = discovery["end_session_endpoint"].as_str().expect("end_session_endpoint").to_owned();

    let response = anna.post(app.url("/logout")).form(&[("csrf", csrf.as_str())]).send().await.expect("HTTP request");

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = Url::parse(&location(&response)).expect("an absolute end-session URL");
    assert!(target.as_str().starts_with(&format!("{end_session_endpoint}?")), "{target}");
    assert_eq!(query_value(&target, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query_value(&target, "post_logout_redirect_uri"), Some(app.url("/logged-out")));
    assert_eq!(session_status(&app, &anna).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0);
    app.stop().await;
}

// --- 9. data minimisation ----------------------------------------------------------

#[tokio::test]
async fn the_database_holds_neither_the_eid_subject_nor_the_name() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = logged_in(&app, "anna", "&level=high").await;
    assert_eq!(session_status(&app, &anna).await, StatusCode::OK);
    assert_eq!(app.count_rows("citizens").await, 1, "the login did write an account");

    let files = app.sqlite_files();
    assert!(!files.is_empty(), "the SQLite files exist");
    let mut total_bytes = 0;
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        total_bytes += bytes.len();
        for needle in [persona_sub("anna"), persona_name("anna"), "Schmidt"] {
            assert!(!contains(&bytes, needle.as_bytes()), "{} contains {needle:?}", file.display());
        }
    }
    assert!(total_bytes > 0);
    app.stop().await;
}

// --- 10. return_to -------------------------------------------------------------------

#[tokio::test]
async fn return_to_a_local_path_is_honoured() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::no_redirect_browser();

    let response = login_without_following(&app, &browser, "anna", "&return_to=/evidence/new").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/evidence/new");
    // And a following browser really ends there, logged in.
    let following = TestApp::browser();
    let landed = following
        .get(app.url(&format!("/login?{}", login_query("anna", "&return_to=%2Fevidence%2Fnew"))))
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(landed.status(), StatusCode::OK);
    assert_eq!(landed.url().path(), "/evidence/new");
    app.stop().await;
}

#[tokio::test]
async fn return_to_another_site_ends_at_my_evidence() {
    let app = TestApp::start(Backend::Sqlite).await;
    let own_origin = Url::parse(&app.base).expect("base URL");
    // Each as it would be written into a link, percent-encoded.
    let hostile = [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example%2F",
        "%2F%5Cevil.example%2F",
        "%2F%5C%2Fevil.example%2F",
        // Browsers (and the WHATWG URL parser) drop tabs and newlines in URLs:
        // "/\t/evil.example" becomes "//evil.example".
        "%2F%09%2Fevil.example%2F",
        "%2F%0A%2Fevil.example%2F",
        "%2F%0D%2Fevil.example%2F",
        "evil.example",
        // A text-direction override or a zero-width space in the path: refused like control characters.
        "%2Fevidence%2Fnew%E2%80%AE",
        "%2Fevidence%E2%80%8B%2Fnew",
    ];
    for return_to in hostile {
        let browser = TestApp::no_redirect_browser();
        let response = login_without_following(&app, &browser, "anna", &format!("&return_to={return_to}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "return_to={return_to}");
        let target = own_origin.join(&location(&response)).expect("a resolvable Location");
        assert_eq!(target.origin(), own_origin.origin(), "return_to={return_to} left the site: {target}");
        assert_eq!(target.path(), "/evidence", "return_to={return_to}");
    }
    app.stop().await;
}

// --- both backends ---------------------------------------------------------------

#[tokio::test]
async fn login_and_logout_work_on_postgresql() {
    let app = TestApp::start(Backend::Postgres).await;
    let browser = TestApp::no_redirect_browser();

    let response = login_without_following(&app, &browser, "anna", "&level=high").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_info(&app, &browser).await["login_level"], "high");
    assert_eq!(app.count_rows("sessions").await, 1);
    assert_eq!(app.count_rows("citizens").await, 1);

    let refused = login_without_following(&app, &TestApp::no_redirect_browser(), "clara", "&level=high").await;
    assert_error(refused, StatusCode::FORBIDDEN, "login_level_too_low").await;

    let csrf = app.csrf(&browser).await;
    let logout =
        browser.post(app.url("/api/v1/logout")).header("X-CSRF-Token", &csrf).send().await.expect("HTTP request");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(session_status(&app, &browser).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0);
    app.stop().await;
}

// --- helpers -------------------------------------------------------------------------

/// The query of `/login` for `persona` (its name is the provider's login
/// hint) plus `extra` (`&level=...`, `&return_to=...`).
fn login_query(persona: &str, extra: &str) -> String {
    format!("issuer={ISSUER_NAME}&login_hint={persona}{extra}")
}

/// `GET /login?...` in `browser` (which must not follow redirects); asserts
/// it redirects to the provider and returns that response.
async fn start_login(app: &TestApp, browser: &Client, persona: &str, extra: &str) -> Response {
    let response =
        browser.get(app.url(&format!("/login?{}", login_query(persona, extra)))).send().await.expect("HTTP request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "/login should send the browser to the provider");
    assert!(location(&response).starts_with(&format!("{}/", app.provider.issuer)), "{}", location(&response));
    response
}

/// Starts a login in `browser` and lets the provider log `persona` in; returns
/// the callback URL (with code and state) without visiting it.
async fn callback_for(app: &TestApp, browser: &Client, persona: &str, extra: &str) -> Url {
    callback_with_binding(app, browser, persona, extra).await.0
}

/// [`callback_for`], plus the value of the binding cookie `/login` set.
async fn callback_with_binding(app: &TestApp, browser: &Client, persona: &str, extra: &str) -> (Url, String) {
    let start = start_login(app, browser, persona, extra).await;
    let binding = cookie_value(&set_cookie_named(&start, BINDING_COOKIE).expect("a binding cookie"));
    let callback = app.provider.authorize(&location(&start)).await;
    assert_eq!(callback.as_str().split('?').next(), Some(app.url("/auth/callback").as_str()));
    (callback, binding)
}

/// The whole login in a non-following `browser`; returns the callback's answer.
async fn login_without_following(app: &TestApp, browser: &Client, persona: &str, extra: &str) -> Response {
    let callback = callback_for(app, browser, persona, extra).await;
    get(browser, callback.as_str()).await
}

/// A browser (not following redirects) with a session of `persona`.
async fn logged_in(app: &TestApp, persona: &str, extra: &str) -> Client {
    let browser = TestApp::no_redirect_browser();
    let response = login_without_following(app, &browser, persona, extra).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {persona} failed: {}",
        response.text().await.unwrap_or_default()
    );
    browser
}

async fn get(browser: &Client, url: &str) -> Response {
    browser.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn session_status(app: &TestApp, browser: &Client) -> StatusCode {
    browser.get(app.url("/api/v1/session")).send().await.expect("HTTP request").status()
}

async fn session_status_with_cookie(app: &TestApp, session_id: &str) -> StatusCode {
    let request =
        Client::new().get(app.url("/api/v1/session")).header(COOKIE, format!("{SESSION_COOKIE}={session_id}"));
    request.send().await.expect("HTTP request").status()
}

async fn session_info(app: &TestApp, browser: &Client) -> Value {
    let response = browser.get(app.url("/api/v1/session")).send().await.expect("HTTP request");
    assert_eq!(response.status(), StatusCode::OK, "expected a session");
    response.json().await.expect("session JSON")
}

async fn assert_no_session(app: &TestApp, browser: &Client) {
    assert_eq!(session_status(app, browser).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, 0, "no session row");
}

async fn post_logout_token(app: &TestApp, token: &str) -> Response {
    Client::new()
        .post(app.url(&format!("/auth/backchannel-logout/{ISSUER_NAME}")))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("HTTP request")
}

/// Asserts status and the stable `{"error": {"code": ...}}`.
async fn assert_error(response: Response, status: StatusCode, code: &str) {
    let actual_status = response.status();
    let body = response.text().await.expect("response body");
    assert_eq!(actual_status, status, "body: {body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(json["error"]["code"], code, "body: {body}");
}

fn location(response: &Response) -> String {
    response.headers().get(LOCATION).expect("a Location header").to_str().expect("ASCII Location").to_owned()
}

/// The raw `Set-Cookie` header that sets `name`.
fn set_cookie_named(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.split_once('=').is_some_and(|(key, _)| key == name))
        .map(str::to_owned)
}

/// `name=value` of a Set-Cookie header: the value.
fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').map(|(_, value)| value.to_owned()).unwrap_or_default()
}

/// The attributes after `name=value`, trimmed and lowercased.
fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|attribute| attribute.trim().to_ascii_lowercase()).collect()
}

fn has_attribute(set_cookie: &str, attribute: &str) -> bool {
    cookie_attributes(set_cookie).iter().any(|present| present == attribute)
}

fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(name, _)| name == key).map(|(_, value)| value.into_owned())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
