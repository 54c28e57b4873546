//! Display settings without JavaScript (`http::display`), against the real
//! app: a `?text=large` / `?contrast=high` link renders the page in that
//! mode and sets a long-lived cookie like the `lang` one; the next page
//! without the parameter keeps the mode; an unknown value is ignored (200,
//! no cookie). On citizen pages (logged out and in) and on staff pages.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::dpo::{DPO, policy_dir};
use crate::support::app::{Backend, TestApp, TestAppOptions};

const YEAR: &str = "Max-Age=31536000";

/// The `Set-Cookie` values of a response for `name`.
fn set_cookies(response: &reqwest::Response, name: &str) -> Vec<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .filter(|value| value.starts_with(&prefix))
        .collect()
}

/// The `class` of `<html>`, if any.
fn html_class(html: &str) -> Option<String> {
    let start = html.find("<html ").expect("an html element");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let class = tag.split(" class=\"").nth(1)?;
    Some(class.split('"').next().unwrap().to_owned())
}

async fn page(response: reqwest::Response) -> (StatusCode, Option<String>) {
    let status = response.status();
    (status, html_class(&response.text().await.unwrap()))
}

#[tokio::test]
async fn display_links_set_cookies_that_later_pages_keep_and_unknown_values_are_ignored() {
    let policies = policy_dir();
    let app = TestApp::start_with(TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;

    // Logged out, cookies by hand: each link sets its own cookie, with the
    // attributes of the language cookie.
    let plain = reqwest::Client::new();
    let response = plain.get(app.url("/?text=large")).send().await.unwrap();
    let text_cookie = set_cookies(&response, "text");
    assert_eq!(text_cookie.len(), 1, "{text_cookie:?}");
    assert!(text_cookie[0].starts_with("text=large; Path=/; HttpOnly; SameSite=Lax"), "{text_cookie:?}");
    assert!(text_cookie[0].ends_with(YEAR), "{text_cookie:?}");
    assert!(set_cookies(&response, "contrast").is_empty());
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large".to_owned())));

    let response = plain.get(app.url("/?lang=en&contrast=high")).header(COOKIE, "text=large").send().await.unwrap();
    assert_eq!(set_cookies(&response, "contrast").len(), 1);
    assert!(set_cookies(&response, "contrast")[0].starts_with("contrast=high; Path=/; HttpOnly; SameSite=Lax"));
    assert!(set_cookies(&response, "text").is_empty(), "only what was switched is set");
    assert!(set_cookies(&response, "lang")[0].starts_with("lang=en;"), "the language switch still works");
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large contrast-high".to_owned())));

    // The next page, without parameters: the cookies keep the mode, nothing is set again.
    let response = plain.get(app.url("/")).header(COOKIE, "text=large; contrast=high").send().await.unwrap();
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large contrast-high".to_owned())));
    // Error pages too (the router's fallback).
    let response = plain.get(app.url("/nothing-here")).header(COOKIE, "contrast=high").send().await.unwrap();
    assert_eq!(page(response).await, (StatusCode::NOT_FOUND, Some("contrast-high".to_owned())));

    // Unknown values: ignored, 200, no cookie, the mode from the cookie (or normal) stays.
    for query in ["text=huge", "contrast=%3Cscript%3E", "text=&contrast=HIGH", "text=large%00"] {
        let response = plain.get(app.url(&format!("/?{query}"))).send().await.unwrap();
        assert!(response.headers().get(SET_COOKIE).is_none(), "{query}");
        assert_eq!(page(response).await, (StatusCode::OK, None), "{query}");
        let response = plain.get(app.url(&format!("/?{query}"))).header(COOKIE, "text=large").send().await.unwrap();
        assert!(response.headers().get(SET_COOKIE).is_none(), "{query}");
        assert_eq!(page(response).await, (StatusCode::OK, Some("text-large".to_owned())), "{query}");
    }

    // A logged-in citizen with a real cookie jar: switch on one page, keep it on the next.
    let anna = TestApp::browser();
    assert_eq!(app.login(&anna, "anna", Some("high")).await.status(), StatusCode::OK);
    let response = anna.get(app.url("/evidence?contrast=high")).send().await.unwrap();
    assert_eq!(set_cookies(&response, "contrast").len(), 1);
    assert_eq!(page(response).await, (StatusCode::OK, Some("contrast-high".to_owned())));
    let response = anna.get(app.url("/evidence/new")).send().await.unwrap();
    assert!(set_cookies(&response, "contrast").is_empty());
    assert_eq!(page(response).await, (StatusCode::OK, Some("contrast-high".to_owned())));
    let response = anna.get(app.url("/access-log?contrast=dark")).send().await.unwrap();
    assert!(set_cookies(&response, "contrast").is_empty(), "an unknown value sets nothing");
    assert_eq!(page(response).await, (StatusCode::OK, Some("contrast-high".to_owned())));
    // Back to normal: marked as chosen, so that it also beats a browser
    // that asks for more contrast (`prefers-contrast: more`), and kept.
    let response = anna.get(app.url("/evidence?contrast=normal")).send().await.unwrap();
    assert_eq!(page(response).await, (StatusCode::OK, Some("contrast-normal".to_owned())), "back to normal");
    assert_eq!(
        page(anna.get(app.url("/grants")).send().await.unwrap()).await,
        (StatusCode::OK, Some("contrast-normal".to_owned()))
    );

    // A data-protection officer: the strict filter form takes the switches
    // (no "unknown parameter"), and keeps its filters beside them.
    let dpo = TestApp::browser();
    assert_eq!(app.staff_login(&dpo, DPO).await.status(), StatusCode::OK);
    let response = dpo.get(app.url("/dpo?action=login&text=large")).send().await.unwrap();
    assert_eq!(set_cookies(&response, "text").len(), 1);
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!((status, html_class(&html)), (StatusCode::OK, Some("text-large".to_owned())));
    assert!(html.contains("<nav class=\"display-switch\""), "the switch is on staff pages");
    assert!(html.contains("href=\"/dpo?action=login&amp;text=large&amp;contrast=high\""), "filters kept: {html}");
    let response = dpo.get(app.url("/dpo/stats")).send().await.unwrap();
    assert!(set_cookies(&response, "text").is_empty());
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large".to_owned())));
    let response = dpo.get(app.url("/dpo/verify?contrast=high")).send().await.unwrap();
    assert_eq!(set_cookies(&response, "contrast").len(), 1);
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large contrast-high".to_owned())));
    // Not even a value the strict filter form would refuse (a control
    // character, a repeat) makes the page an error.
    let response = dpo.get(app.url("/dpo?text=gigantic&contrast=%00&contrast=")).send().await.unwrap();
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(page(response).await, (StatusCode::OK, Some("text-large contrast-high".to_owned())));

    // Not logged in: the staff error page takes the address's switches too,
    // and its switch links lead back to the page asked for.
    let response = TestApp::browser().get(app.url("/dpo/stats?contrast=high")).send().await.unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!((status, html_class(&html)), (StatusCode::UNAUTHORIZED, Some("contrast-high".to_owned())));
    assert!(html.contains("href=\"/dpo/stats?contrast=high&amp;text=large\""), "{html}");

    app.stop().await;
}
