//! The OpenAPI description as the running app serves it, and the app's
//! answers held against it: every citizen operation refuses a request
//! without a session, and every department operation one without a
//! certificate, each with a status and code the description names for it.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::app::{Backend, TestApp};

#[tokio::test]
async fn the_description_is_served_public_and_cacheable() {
    let app = TestApp::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    // Not rate-limited like the public API (120 a minute per address).
    for _ in 0..130 {
        let response = client.get(app.url("/api/v1/openapi.json")).send().await.expect("openapi.json");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = client.get(app.url("/api/v1/openapi.json")).send().await.expect("openapi.json");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let served = response.text().await.expect("body");
    assert_eq!(served, tresor::http::openapi::document());
    let doc: Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["department_certificate"]["type"], "mutualTLS");
    app.stop().await;
}

#[tokio::test]
async fn unauthenticated_calls_are_refused_as_described() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = tresor::http::openapi::document_value();
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.keys().map(String::as_str))
                .collect();
            let expected: &[(StatusCode, &str)] = if schemes.contains(&"session_cookie") {
                &[(StatusCode::UNAUTHORIZED, "not_logged_in")]
            } else if schemes.contains(&"department_certificate") {
                &[(StatusCode::UNAUTHORIZED, "certificate_required")]
            } else if schemes.contains(&"staff_session_cookie") {
                &[
                    (StatusCode::UNAUTHORIZED, "staff_not_logged_in"),
                    (StatusCode::NOT_FOUND, "staff_login_not_configured"),
                ]
            } else {
                continue;
            };
            // Path parameters get a well-formed but unknown id: the
            // authentication is refused before anything is looked up.
            let url = app.url(
                &path
                    .replace("{id}", "0123456789abcdef0123456789abcdef")
                    .replace("{index}", "1")
                    .replace("{evidence}", "0123456789abcdef0123456789abcdef"),
            );
            let method: Method = method.to_uppercase().parse().expect("method");
            let response = client.request(method.clone(), &url).send().await.expect("call");
            let status = response.status();
            let body: Value = response.json().await.expect("an error body in JSON");
            let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
            assert!(expected.contains(&(status, code.as_str())), "{method} {path}: {status} {body}");
            let described = &operation["responses"][status.as_str()]["content"]["application/json"]["schema"]["allOf"]
                [1]["properties"]["error"]["properties"]["code"]["enum"];
            assert!(
                described.as_array().is_some_and(|codes| codes.iter().any(|c| c == code.as_str())),
                "{method} {path}: {status} {code} is not described ({described})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} authenticated operations");
    app.stop().await;
}

/// Every `/api/v1/` route the router has is in the description: a route
/// added without its `#[utoipa::path]` (and its entry in the `paths` list)
/// fails here.
#[test]
fn every_api_route_is_described() {
    let doc = tresor::http::openapi::document_value();
    let described: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    let mut routes = Vec::new();
    let mut pending = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).expect("src/http").map(|entry| entry.expect("entry").path()));
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        for (start, _) in source.match_indices(".route(\"/api/v1/") {
            let literal = &source[start + ".route(\"".len()..];
            let route = &literal[..literal.find('"').expect("a closing quote")];
            routes.push((path.display().to_string(), route.replace("{*", "{")));
        }
    }
    assert!(routes.len() >= 20, "only {} API routes found", routes.len());
    for (file, route) in routes {
        assert!(described.iter().any(|path| **path == route), "{route} ({file}) is not in the OpenAPI description");
    }
}
