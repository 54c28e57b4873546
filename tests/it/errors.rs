//! One error contract for every refusal. Each offending request goes to the
//! real app (SQLite, the real OpenID provider for the citizen's login, a
//! department certificate through the trusted proxy): under `/api/` (and the
//! provider's back-channel logout) the answer is `{"error": {"code",
//! "message"}}` with a stable code; on pages it is the HTML error page, in
//! the visitor's language. That includes axum's own extractor rejections
//! (path, query, form, JSON, multipart, body limit), 405 (with its `Allow`
//! header) and unknown paths. Errors that handlers already answer as JSON
//! keep their codes.

use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, ALLOW, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::app::{Backend, Citizen, ISSUER_NAME, TestApp};

/// Over axum's default body limit (2 MiB) for `Bytes`/`Form` extractors,
/// but only just, so the client finishes sending before the answer.
const OVER_DEFAULT_LIMIT: usize = 2 * 1024 * 1024 + 16 * 1024;
const SOME_ID: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    /// A citizen logged in through the real provider (session cookie).
    Citizen,
    /// The `wohngeldstelle` certificate through the trusted proxy header.
    Department,
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Status and stable code of the JSON error.
    Json(u16, &'static str),
    /// Status of the HTML error page.
    Page(u16),
}

#[derive(Clone, Debug)]
enum Body {
    Empty,
    Text(&'static str),
    /// `OVER_DEFAULT_LIMIT` bytes of `byte`.
    Oversized(u8),
}

#[derive(Clone, Debug)]
struct Case {
    method: Method,
    path: String,
    caller: Caller,
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
    body: Body,
    answer: Answer,
}

fn case(method: Method, path: &str, answer: Answer) -> Case {
    Case {
        method,
        path: path.to_owned(),
        caller: Caller::Anonymous,
        content_type: None,
        accept: None,
        body: Body::Empty,
        answer,
    }
}

fn api(method: Method, path: &str, status: u16, code: &'static str) -> Case {
    case(method, path, Answer::Json(status, code))
}

fn page(method: Method, path: &str, status: u16) -> Case {
    case(method, path, Answer::Page(status))
}

impl Case {
    fn by(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    fn accept(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
    }

    fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

/// Every kind of refusal found from outside, route by route.
fn cases() -> Vec<Case> {
    use Caller::{Citizen, Department};
    let get = || Method::GET;
    let post = || Method::POST;
    let oversized_json = Body::Oversized(b' ');
    let oversized_form = Body::Oversized(b'a');
    vec![
        // Multipart: no or a broken boundary, or not multipart at all.
        api(post(), "/api/v1/evidence", 400, "invalid_multipart").by(Citizen).content_type("multipart/form-data"),
        api(post(), "/api/v1/evidence", 400, "invalid_multipart")
            .by(Citizen)
            .content_type("multipart/form-data; boundary=")
            .body(Body::Text("--x\r\n")),
        api(post(), "/api/v1/evidence", 400, "invalid_multipart").by(Citizen).content_type("application/json"),
        page(post(), "/evidence", 400).by(Citizen).content_type("multipart/form-data"),
        // `%FF` (not UTF-8) in a path id, on every route with an id.
        api(get(), "/api/v1/evidence/%FF", 400, "invalid_path").by(Citizen),
        api(Method::DELETE, "/api/v1/evidence/%FF", 400, "invalid_path").by(Citizen),
        api(get(), "/api/v1/evidence/%FF/file", 400, "invalid_path").by(Citizen),
        api(get(), "/api/v1/requests/%FF", 400, "invalid_path").by(Citizen),
        api(post(), "/api/v1/requests/%FF/approve", 400, "invalid_path").by(Citizen),
        api(post(), "/api/v1/requests/%FF/deny", 400, "invalid_path").by(Citizen),
        api(post(), "/api/v1/grants/%FF/revoke", 400, "invalid_path").by(Citizen),
        api(get(), "/api/v1/dept/requests/%FF", 400, "invalid_path").by(Department),
        api(get(), "/api/v1/dept/grants/%FF/release", 400, "invalid_path").by(Department),
        api(get(), &format!("/api/v1/dept/grants/{SOME_ID}/releases/%FF/files/{SOME_ID}"), 400, "invalid_path")
            .by(Department),
        api(post(), "/auth/backchannel-logout/%FF", 400, "invalid_path")
            .content_type("application/x-www-form-urlencoded")
            .body(Body::Text("logout_token=x")),
        page(get(), "/evidence/%FF", 400).by(Citizen),
        page(get(), "/evidence/%FF/file", 400).by(Citizen),
        page(get(), "/evidence/%FF/delete", 400).by(Citizen),
        page(get(), "/requests/%FF", 400),
        page(post(), "/grants/%FF/revoke", 400).by(Citizen),
        // A repeated (or ill-typed) query parameter.
        api(get(), "/api/v1/audit/consistency?old=1&old=2", 400, "invalid_query"),
        page(get(), &format!("/login?issuer={ISSUER_NAME}&issuer={ISSUER_NAME}"), 400),
        page(get(), "/auth/callback?state=a&state=b", 400),
        page(get(), "/staff/login?login_hint=a&login_hint=b", 400),
        page(get(), "/staff/callback?code=a&code=b", 400),
        page(get(), "/evidence/new?type=a&type=b", 400).by(Citizen),
        // A body over the 2 MB limit keeps 413.
        api(post(), "/api/v1/dept/requests", 413, "body_too_large")
            .by(Department)
            .content_type("application/json")
            .body(oversized_json.clone()),
        api(post(), &format!("/api/v1/requests/{SOME_ID}/approve"), 413, "body_too_large")
            .by(Citizen)
            .content_type("application/json")
            .body(oversized_json),
        page(post(), &format!("/requests/{SOME_ID}"), 413)
            .by(Citizen)
            .content_type("application/x-www-form-urlencoded")
            .body(oversized_form.clone()),
        page(post(), "/logout", 413).by(Citizen).content_type("application/x-www-form-urlencoded").body(oversized_form),
        // Forms with the wrong (or no) content type.
        page(post(), "/logout", 415).by(Citizen).content_type("application/json").body(Body::Text("{}")),
        page(post(), "/logout", 415).by(Citizen),
        page(post(), "/staff/logout", 415).content_type("text/plain").body(Body::Text("csrf=x")),
        page(post(), &format!("/evidence/{SOME_ID}/delete"), 415).by(Citizen).content_type("application/json"),
        page(post(), "/account/erase", 415).by(Citizen).content_type("application/json"),
        api(post(), &format!("/auth/backchannel-logout/{ISSUER_NAME}"), 415, "unsupported_media_type")
            .content_type("application/json")
            .body(Body::Text("{}")),
        // Malformed form bodies (a field twice).
        page(post(), "/logout", 422)
            .by(Citizen)
            .content_type("application/x-www-form-urlencoded")
            .body(Body::Text("csrf=a&csrf=b")),
        page(post(), "/staff/logout", 422)
            .content_type("application/x-www-form-urlencoded")
            .body(Body::Text("csrf=a&csrf=b")),
        api(post(), &format!("/auth/backchannel-logout/{ISSUER_NAME}"), 422, "invalid_form")
            .content_type("application/x-www-form-urlencoded")
            .body(Body::Text("logout_token=a&logout_token=b")),
        // Malformed JSON bodies: the handlers' own codes, kept.
        api(post(), "/api/v1/dept/requests", 400, "invalid_json")
            .by(Department)
            .content_type("application/json")
            .body(Body::Text("{\"service\":")),
        api(post(), "/api/v1/dept/requests", 415, "unsupported_media_type")
            .by(Department)
            .content_type("text/plain")
            .body(Body::Text("{}")),
        // Method not allowed.
        api(Method::PUT, "/api/v1/evidence", 405, "method_not_allowed").by(Citizen),
        api(post(), "/api/v1/keys", 405, "method_not_allowed"),
        api(get(), "/api/v1/logout", 405, "method_not_allowed"),
        api(Method::DELETE, "/api/v1/dept/requests", 405, "method_not_allowed").by(Department),
        api(Method::PATCH, "/api/v1/audit/checkpoint", 405, "method_not_allowed"),
        page(get(), "/logout", 405),
        page(get(), "/staff/logout", 405),
        page(Method::DELETE, "/", 405),
        page(Method::PUT, "/evidence", 405).by(Citizen),
        // Unknown paths.
        api(get(), "/api/v1/nothing-here", 404, "not_found"),
        api(get(), "/api/v1/dept/nothing-here", 404, "not_found").by(Department),
        api(post(), "/api/v1/dept/nothing-here", 404, "not_found"),
        api(get(), "/api/v2/evidence", 404, "not_found"),
        api(get(), "/api", 404, "not_found"),
        page(get(), "/nothing-here", 404),
        // Errors handlers answer themselves keep their codes.
        api(get(), "/api/v1/evidence/not-an-id", 404, "not_found").by(Citizen),
        api(get(), "/api/v1/session", 401, "not_logged_in"),
        api(get(), "/api/v1/audit/consistency?old=x", 400, "invalid_tree_size"),
        api(get(), "/api/v1/dept/whoami", 401, "certificate_required").accept("text/html"),
        api(get(), "/login?issuer=nobody", 400, "unknown_issuer").accept("application/json"),
        // A browser gets a page for a JSON refusal on a page path.
        page(post(), "/logout", 401).content_type("application/x-www-form-urlencoded").accept("text/html"),
    ]
}

fn request(app: &TestApp, citizen: &Citizen, case: &Case) -> reqwest::RequestBuilder {
    let builder = match case.caller {
        Caller::Anonymous => reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(case.method.clone(), app.url(&case.path)),
        Caller::Citizen => citizen.no_redirects().request(case.method.clone(), app.url(&case.path)),
        Caller::Department => app.as_department("wohngeldstelle", case.method.clone(), &case.path),
    };
    let builder = match case.content_type {
        Some(content_type) => builder.header(CONTENT_TYPE, content_type),
        None => builder,
    };
    let builder = match case.accept {
        Some(accept) => builder.header(ACCEPT, accept),
        None => builder,
    };
    match &case.body {
        Body::Empty => builder,
        Body::Text(text) => builder.body(*text),
        Body::Oversized(byte) => builder.body(vec![*byte; OVER_DEFAULT_LIMIT]),
    }
}

/// What is wrong with the answer to `case` (empty: nothing).
async fn check(app: &TestApp, citizen: &Citizen, case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let response = match request(app, citizen, case).send().await {
        Ok(response) => response,
        Err(error) => return vec![format!("no answer: {error}")],
    };
    let status = response.status();
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let allow = response.headers().get(ALLOW).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    let expected_status = match case.answer {
        Answer::Json(status, _) | Answer::Page(status) => status,
    };
    if status.as_u16() != expected_status {
        problems.push(format!("status {status}, expected {expected_status}"));
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && allow.as_deref().is_none_or(str::is_empty) {
        problems.push("405 without an Allow header".to_owned());
    }
    match case.answer {
        Answer::Json(_, code) => {
            if !content_type.starts_with("application/json") {
                problems.push(format!("content-type {content_type:?}, expected application/json"));
            }
            match serde_json::from_str::<Value>(&body) {
                Ok(json) => {
                    if json["error"]["code"] != code {
                        problems.push(format!("code {}, expected {code:?}", json["error"]["code"]));
                    }
                    if json["error"]["message"].as_str().is_none_or(|message| message.trim().is_empty()) {
                        problems.push("no message".to_owned());
                    }
                }
                Err(_) => problems.push(format!("not JSON: {:?}", body.chars().take(80).collect::<String>())),
            }
        }
        Answer::Page(status) => {
            if !content_type.starts_with("text/html") {
                problems.push(format!("content-type {content_type:?}, expected text/html"));
            }
            if !body.contains("<html") || !body.contains("<h1>") {
                problems.push(format!("not an HTML page: {:?}", body.chars().take(80).collect::<String>()));
            }
            if !body.contains(&format!("Fehler-Nummer: {status}")) && !body.contains(&format!("Error number: {status}"))
            {
                problems.push("the page does not show the status".to_owned());
            }
        }
    }
    problems
}

#[tokio::test]
async fn every_refusal_answers_in_the_error_contract() {
    let app = TestApp::start(Backend::Sqlite).await;
    let citizen = app.log_in_citizen("anna", "high").await;
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let problems = check(&app, &citizen, case).await;
        if !problems.is_empty() {
            failures.push(format!("{} {} ({:?}): {}", case.method, case.path, case.caller, problems.join("; ")));
        }
    }
    // The refusals changed nothing: the citizen is still logged in.
    let session = citizen.browser.get(app.url("/api/v1/session")).send().await.unwrap();
    assert_eq!(session.status(), StatusCode::OK);
    assert!(
        failures.is_empty(),
        "{} of {} cases break the contract:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    app.stop().await;
}

#[tokio::test]
async fn method_not_allowed_keeps_its_allow_header() {
    let app = TestApp::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    for (method, path, allowed, code_or_page) in [
        (Method::PUT, "/api/v1/evidence", "GET,HEAD,POST", "method_not_allowed"),
        (Method::POST, "/api/v1/keys", "GET,HEAD", "method_not_allowed"),
        (Method::GET, "/logout", "POST", "page"),
    ] {
        let response = client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = response.headers().get(ALLOW).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort_unstable();
        assert_eq!(methods.join(","), allowed, "{method} {path}");
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = response.text().await.unwrap();
        if code_or_page == "page" {
            assert!(content_type.starts_with("text/html"), "{method} {path}: {content_type}");
        } else {
            let json: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["error"]["code"], code_or_page, "{method} {path}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn page_refusals_speak_the_visitors_language() {
    let app = TestApp::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    for (language, title, message) in [
        (
            "de",
            "Das hat nicht geklappt",
            "Die Anfrage wurde in einem Format gesendet, das diese Adresse nicht annimmt.",
        ),
        ("en", "That did not work", "The request was sent in a format this address does not accept."),
    ] {
        let response = client
            .post(app.url("/staff/logout"))
            .header(ACCEPT_LANGUAGE, language)
            .header(CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body = response.text().await.unwrap();
        assert!(body.contains(&format!("<html lang=\"{language}\"")), "{language}: {body}");
        assert!(body.contains(title), "{language}: {body}");
        assert!(body.contains(message), "{language}: {body}");
    }
    // `?lang=` wins, as on every page.
    let response = client.get(app.url("/evidence/%FF?lang=de")).header(ACCEPT_LANGUAGE, "en").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("<html lang=\"de\""), "{body}");
    assert!(body.contains("Die Adresse enthält einen ungültigen Teil."), "{body}");
    app.stop().await;
}
