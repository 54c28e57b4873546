//! Forms that forgive mistakes (issue 15 items 1 and 2), end to end through
//! the page form as a browser without JavaScript sends it: every error
//! brings the form back with what was typed (413, 415, a wrong date, a form
//! token that no longer matches), dates come as three fields, and an ended
//! session keeps the typed values as a sealed draft that the new login
//! brings back, once, to this browser only, for 30 minutes.

use tresor::clock::Clock;

use super::*;
use crate::support::app::ISSUER_NAME;

const DRAFT_COOKIE: &str = "tresor_draft";

/// The upload form of an income statement as the page posts it: text parts
/// first (dates as day, month, year), then the file.
fn page_form(csrf: &str, employer: &str, from: [&str; 3], gross: &str, file: Option<Attachment>) -> Form {
    let mut form = Form::new()
        .text("csrf", csrf.to_owned())
        .text("type", "income_statement")
        .text("field.employer", employer.to_owned())
        .text("field.gross_monthly_income", gross.to_owned())
        .text("field.net_monthly_income", "987,60");
    for (part, value) in ["day", "month", "year"].iter().zip(from) {
        form = form.text(format!("field.period_from.{part}"), value.to_owned());
    }
    for (part, value) in ["day", "month", "year"].iter().zip(["31", "12", "2026"]) {
        form = form.text(format!("field.period_to.{part}"), value.to_owned());
    }
    form = form.text("field.household_members", "3");
    if let Some(file) = file {
        form =
            form.part("file", Part::bytes(file.bytes).file_name(file.name).mime_str(file.claimed_type).expect("mime"));
    }
    form
}

async fn post_page_form(client: &reqwest::Client, app: &TestApp, form: Form) -> (StatusCode, String) {
    let response = client
        .post(app.url("/evidence"))
        .header("Sec-Fetch-Site", "same-origin")
        .multipart(form)
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.text().await.expect("html"))
}

/// The `value` of the input named `name` in `html`.
fn input_value<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let start = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..start].rfind('<')?;
    let tag = &html[tag_start..start + html[start..].find('>')?];
    let value = tag.split(" value=\"").nth(1)?;
    value.split('"').next()
}

fn assert_typed_values_kept(html: &str, employer: &str, from: [&str; 3], gross: &str) {
    assert_eq!(input_value(html, "field.employer"), Some(employer), "{html}");
    assert_eq!(input_value(html, "field.gross_monthly_income"), Some(gross));
    assert_eq!(input_value(html, "field.net_monthly_income"), Some("987,60"));
    for (part, value) in ["day", "month", "year"].iter().zip(from) {
        assert_eq!(input_value(html, &format!("field.period_from.{part}")), Some(value), "{part}");
    }
    assert_eq!(input_value(html, "field.period_to.day"), Some("31"));
    assert_eq!(input_value(html, "field.household_members"), Some("3"));
}

const CHOOSE_AGAIN: &str = "Bitte wählen Sie die Datei noch einmal aus.";

pub(super) async fn every_upload_error_shows_the_form_again_with_what_was_typed(backend: Backend) {
    const LIMIT: usize = 256 * 1024;
    let app =
        TestApp::start_with(TestAppOptions { upload_limit_bytes: LIMIT as u64, ..TestAppOptions::new(backend) }).await;
    let anna = log_in(&app, "anna", "high").await;
    let browser = anna.no_redirects();
    let from = ["1", "10", "2026"];

    // 413: the file is over the limit; the text parts before it are kept.
    for len in [LIMIT + 1, LIMIT + 1024 * 1024 + 1] {
        let file = Some(attachment("gross.pdf", pdf(len)));
        let (status, html) =
            post_page_form(&browser, &app, page_form(&anna.csrf, "Zebrafink & Co", from, "1.234,50", file)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{len}: {html}");
        assert!(html.contains("class=\"error-summary\""), "{html}");
        assert!(html.contains("<a href=\"#upload-file\">Datei: Die Datei ist zu groß."), "{html}");
        assert!(html.contains(CHOOSE_AGAIN), "the dropped file is asked for again");
        assert_typed_values_kept(&html, "Zebrafink &amp; Co", from, "1.234,50");
        assert_nothing_stored(&app, &format!("413 with {len} bytes")).await;
    }

    // 415: the file is no PDF, PNG or JPEG.
    let text = Attachment { name: "letter.pdf", bytes: b"plain text\n".repeat(100), claimed_type: "application/pdf" };
    let (status, html) =
        post_page_form(&browser, &app, page_form(&anna.csrf, "Okapi AG", from, "3250", Some(text))).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(html.contains("href=\"#upload-file\""), "{html}");
    assert!(html.contains(CHOOSE_AGAIN));
    assert_typed_values_kept(&html, "Okapi AG", from, "3250");
    assert_nothing_stored(&app, "415").await;

    // 422: a date that does not exist (31.02.) with a good file: the error
    // names the date, links to its day, and the good file is asked for again.
    let impossible = ["31", "02", "2026"];
    let file = Some(attachment("ok.pdf", pdf(10_000)));
    let (status, html) =
        post_page_form(&browser, &app, page_form(&anna.csrf, "Okapi AG", impossible, "3.250,00 €", file)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#field-period_from-day\""), "{html}");
    assert!(html.contains("Dieses Datum gibt es nicht"), "{html}");
    assert!(html.contains(CHOOSE_AGAIN));
    assert_typed_values_kept(&html, "Okapi AG", impossible, "3.250,00 €");
    assert_nothing_stored(&app, "31.02.").await;

    // A missing month and a year out of range name the part.
    for (parts, words, target) in [
        (["1", "", "2026"], "Bitte geben Sie auch den Monat ein.", "#field-period_from-month"),
        (["1", "10", "1850"], "Bitte geben Sie ein Jahr von 1900 bis 2100 ein.", "#field-period_from-year"),
    ] {
        let (status, html) =
            post_page_form(&browser, &app, page_form(&anna.csrf, "Okapi AG", parts, "3250", None)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains(words) && html.contains(&format!("href=\"{target}\"")), "{html}");
        assert!(!html.contains(CHOOSE_AGAIN), "no file was chosen");
        assert_typed_values_kept(&html, "Okapi AG", parts, "3250");
    }

    // An ambiguous amount is refused, not guessed.
    let (status, html) = post_page_form(&browser, &app, page_form(&anna.csrf, "Okapi AG", from, "1,234", None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("href=\"#field-gross_monthly_income\""), "{html}");
    assert!(html.contains("Dieser Betrag ist nicht eindeutig."), "{html}");
    assert_typed_values_kept(&html, "Okapi AG", from, "1,234");

    // A form token that no longer matches: the form again, with a good one.
    let (status, html) = post_page_form(&browser, &app, page_form("stale-token", "Okapi AG", from, "3250", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("<li>Formular: "), "{html}");
    assert_eq!(input_value(&html, "csrf"), Some(anna.csrf.as_str()));
    assert_typed_values_kept(&html, "Okapi AG", from, "3250");
    assert_nothing_stored(&app, "csrf").await;

    // 1 October 2026 typed as 1 / 10 / 2026 is stored as that day, and an
    // amount in German notation with the euro sign as 3250.00.
    let file = Some(attachment("ok.pdf", pdf(10_000)));
    let response = browser
        .post(app.url("/evidence"))
        .multipart(page_form(&anna.csrf, "Okapi AG", from, "3.250,00 €", file))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().expect("ascii").to_owned();
    let id = location.trim_start_matches("/evidence/").trim_end_matches("?notice=stored");
    let json = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert_eq!(json["fields"]["period_from"], "2026-10-01", "{json}");
    assert_eq!(json["fields"]["gross_monthly_income"], "3250.00", "{json}");
    app.stop().await;
}

/// The login link on the page after an ended session.
fn login_link(html: &str) -> String {
    let start = html.find("href=\"/login?return_to=").expect("a login link") + "href=\"".len();
    html[start..start + html[start..].find('"').expect("closed")].replace("&amp;", "&")
}

/// Log in through the real provider by the page's link (as the button does).
async fn log_in_by_link(app: &TestApp, browser: &reqwest::Client, link: &str) -> reqwest::Response {
    let url = format!("{}{link}&issuer={ISSUER_NAME}&login_hint=anna&level=high", app.base);
    let response = browser.get(url).send().await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    response
}

fn draft_cookie(response_headers: &reqwest::header::HeaderMap) -> Option<String> {
    response_headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{DRAFT_COOKIE}=")))
        .map(str::to_owned)
}

pub(super) async fn an_ended_session_keeps_the_form_as_a_sealed_draft_for_this_browser(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let start = app.clock.now();
    let from = ["27", "3", "2007"];
    let employer = "Quokka-Draft-Marker GmbH";

    // 31 minutes without activity end the session; the form is sent anyway.
    app.clock.advance(chrono::Duration::minutes(31));
    let file = Some(attachment("gross.pdf", pdf(10_000)));
    let response = anna
        .browser
        .post(app.url("/evidence"))
        .header("Origin", app.base.clone())
        .multipart(page_form(&anna.csrf, employer, from, "1.234,50", file))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cookie = draft_cookie(response.headers()).expect("a draft cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=1800"),
        "{cookie}"
    );
    let expired_page = response.text().await.expect("html");
    assert!(expired_page.contains("<h1>Sie wurden abgemeldet</h1>"), "{expired_page}");
    assert!(expired_page.contains("30 Minuten lang verschlüsselt"), "{expired_page}");
    app.clock.set(start);
    assert_nothing_stored(&app, "the ended session").await;
    assert_eq!(app.count_rows("form_drafts").await, 1);
    if backend == Backend::Sqlite {
        let raw = app.sqlite_raw_bytes();
        assert!(!contains(&raw, b"Quokka-Draft-Marker"), "the draft is sealed at rest");
    }

    // Another browser (anna again, her own cookie, or a made-up draft
    // cookie) does not get it, and does not use it up.
    let other = log_in(&app, "anna", "high").await;
    let path = "/evidence/new?type=income_statement&draft=1";
    let html = other.browser.get(app.url(path)).send().await.expect("page").text().await.expect("html");
    assert!(!html.contains("Quokka") && !html.contains("wieder da"), "{html}");
    let session = app.cookies_for(&other.jar).expect("session cookie");
    let forged = TestApp::browser()
        .get(app.url(path))
        .header("Cookie", format!("{session}; {DRAFT_COOKIE}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .expect("page");
    assert!(!forged.text().await.expect("html").contains("Quokka"));
    assert_eq!(app.count_rows("form_drafts").await, 1, "still there for its own browser");

    // Logging in again by the page's link: back on the form, with the values.
    let response = log_in_by_link(&app, &anna.browser, &login_link(&expired_page)).await;
    assert_eq!(response.url().path(), "/evidence/new");
    let html = response.text().await.expect("html");
    assert!(html.contains("Ihre Eingaben sind wieder da."), "{html}");
    assert!(html.contains(CHOOSE_AGAIN), "the file has to be chosen again");
    assert_typed_values_kept(&html, employer, from, "1.234,50");
    assert_eq!(app.count_rows("form_drafts").await, 0, "taken once");
    // Deleted after use: the same link again gives the empty form.
    let html = anna.browser.get(app.url(path)).send().await.expect("page").text().await.expect("html");
    assert!(!html.contains("Quokka") && !html.contains("wieder da"), "{html}");

    // A post from another site keeps nothing (its Origin is not this host).
    let stranger = TestApp::no_redirect_browser();
    let response = stranger
        .post(app.url("/evidence"))
        .header("Sec-Fetch-Site", "cross-site")
        .multipart(page_form("x", employer, from, "1", None))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(draft_cookie(response.headers()).is_none());
    assert_eq!(app.count_rows("form_drafts").await, 0);
    app.stop().await;
}

pub(super) async fn a_form_draft_expires_after_thirty_minutes_and_is_swept(backend: Backend) {
    let app = TestApp::start(backend).await;
    let now = app.clock.now();
    let from = ["1", "10", "2026"];
    // Never logged in (no session at all) is the same as an ended one.
    let (browser, _jar) = TestApp::browser_with_jar();
    app.clock.set(now - chrono::Duration::minutes(31));
    let (status, html) = post_page_form(&browser, &app, page_form("x", "Okapi AG", from, "3250", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert_eq!(app.count_rows("form_drafts").await, 1);
    app.clock.set(now);
    let response = log_in_by_link(&app, &browser, &login_link(&html)).await;
    assert_eq!(response.url().path(), "/evidence/new");
    let html = response.text().await.expect("html");
    assert!(!html.contains("Okapi") && !html.contains("wieder da"), "expired: the empty form: {html}");
    assert!(html.contains("name=\"field.period_from.day\""), "the form of the type asked for");
    assert_eq!(app.count_rows("form_drafts").await, 0);

    // The sweeper removes drafts nobody came back for.
    let stranger = TestApp::browser();
    app.clock.set(now - chrono::Duration::minutes(31));
    let (status, _) = post_page_form(&stranger, &app, page_form("x", "Okapi AG", from, "3250", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.clock.set(now);
    assert_eq!(app.count_rows("form_drafts").await, 1);
    tresor::server::sweep_once(&app.state).await;
    assert_eq!(app.count_rows("form_drafts").await, 0);
    app.stop().await;
}
