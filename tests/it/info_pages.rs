//! The pages a public body must offer (accessibility statement, easy read,
//! sign language, privacy notice, imprint, contact): each in both languages
//! with the city's details from `[city]`, linked from every page's footer;
//! the anonymous feedback form (stored, refused with clear errors, limited
//! per address, refused cross-site) and the DPO's page of its messages
//! (only for a DPO, each read in the audit log).

use tresor::config::{CityConfig, Config, Limits};

use crate::dpo::{DPO, policy_dir};
use crate::support::app::{Backend, TestApp, TestAppOptions};

const INFO_PAGES: [&str; 6] = ["/accessibility", "/easy-read", "/sign-language", "/privacy", "/imprint", "/contact"];

fn city() -> CityConfig {
    CityConfig {
        name: "Hansestadt Prüfhausen".into(),
        office: "Amt 10 – Digitales".into(),
        address: vec!["Am Markt 7".into(), "54321 Prüfhausen".into()],
        phone: "+49 4711 0815".into(),
        email: "tresor@pruefhausen.example".into(),
        hours: "Di 9–12".into(),
        representative: "Bürgermeister Paul Prüfer".into(),
        vat_id: "DE999999999".into(),
        content_responsible: "Petra Inhalt".into(),
        dpo_name: "Dora Datenschutz".into(),
        dpo_email: "dsb@pruefhausen.example".into(),
        dpo_address: vec!["Postfach 1".into()],
        supervisory_authority: "Landesdatenschutz Prüfland".into(),
        supervisory_authority_url: "https://lfd.pruefland.example".into(),
        processor: "Rechenzentrum Prüfland".into(),
        sign_language_video_url: "https://video.pruefhausen.example/dgs".into(),
        accessibility_conformance: "partial".into(),
        accessibility_statement_date: "2026-11-30".into(),
        enforcement_body: "Schlichtungsstelle BGG".into(),
        enforcement_url: "https://schlichtung.example".into(),
        example: false,
    }
}

fn with_city(config: &mut Config) {
    config.city = city();
}

async fn start(backend: Backend, limits: Option<Limits>) -> (TestApp, tempfile::TempDir) {
    let policies = policy_dir();
    let mut options = TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        adjust_config: Some(with_city),
        ..TestAppOptions::new(backend)
    };
    if let Some(limits) = limits {
        options.limits = limits;
    }
    (TestApp::start_with(options).await, policies)
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = reqwest::get(app.url(path)).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn assert_footer_links(path: &str, html: &str) {
    let footer = html.split_once("<footer").map(|(_, footer)| footer).unwrap_or_else(|| panic!("{path}: no footer"));
    for link in INFO_PAGES {
        assert!(footer.contains(&format!("href=\"{link}\"")), "{path}: the footer does not link {link}: {footer}");
    }
}

#[tokio::test]
async fn every_info_page_shows_the_citys_details_in_both_languages() {
    let (app, _policies) = start(Backend::Sqlite, None).await;
    let expected: [(&str, &[&str], &[&str]); 6] = [
        (
            "/accessibility",
            &["Erklärung zur Barrierefreiheit", "zum Teil", "30.11.2026", "Barriere melden", "Schlichtungsstelle BGG"],
            &["Accessibility statement", "partly meets", "30 November 2026", "Report a barrier"],
        ),
        (
            "/easy-read",
            &["tresor in Leichter Sprache", "<p>Ein Tresor ist ein sicherer Schrank.</p>"],
            &["tresor in easy read", "<p>A safe is a strong box for important things.</p>"],
        ),
        (
            "/sign-language",
            &["Gebärdensprache", "href=\"https://video.pruefhausen.example/dgs\"", "Deutscher Gebärdensprache"],
            &["Sign language", "href=\"https://video.pruefhausen.example/dgs\"", "German Sign Language"],
        ),
        (
            "/privacy",
            &[
                "Datenschutzerklärung",
                "Hansestadt Prüfhausen",
                "Dora Datenschutz",
                "mailto:dsb@pruefhausen.example",
                "Postfach 1",
                "Art. 6 Abs. 1 Buchstabe a DSGVO",
                "Rechenzentrum Prüfland",
                "730 Tage",
                "nach 30 Minuten",
                "href=\"https://lfd.pruefland.example\"",
            ],
            &[
                "Privacy notice",
                "Dora Datenschutz",
                "Art. 6(1)(a) GDPR",
                "730 days",
                "after 30 minutes",
                "Art. 77 GDPR",
            ],
        ),
        (
            "/imprint",
            &[
                "Impressum",
                "Bürgermeister Paul Prüfer",
                "DE999999999",
                "Petra Inhalt",
                "Am Markt 7<br>54321 Prüfhausen",
            ],
            &["Imprint", "Represented by", "Bürgermeister Paul Prüfer", "tel:+4947110815"],
        ),
        (
            "/contact",
            &["Kontakt", "Di 9–12", "tresor@pruefhausen.example", "dsb@pruefhausen.example", "/accessibility#feedback"],
            &["Contact", "Opening hours", "Di 9–12", "Amt 10 – Digitales"],
        ),
    ];
    for (path, german, english) in expected {
        for (lang, words) in [("de", german), ("en", english)] {
            let (status, html) = page(&app, &format!("{path}?lang={lang}")).await;
            assert_eq!(status, 200, "{path} {lang}");
            assert!(html.contains(&format!("<html lang=\"{lang}\"")), "{path}: not in {lang}");
            for word in words {
                assert!(html.contains(word), "{path} ({lang}) lacks {word:?}: {html}");
            }
            assert!(!html.contains("Beispiel:") && !html.contains("Example:"), "{path}: real details are no example");
            assert_footer_links(path, &html);
            let current = format!("<a href=\"{path}\" aria-current=\"page\">");
            assert!(html.contains(&current), "{path}: the footer marks the current page");
        }
    }
    // Every other page carries the same footer: the start page, an error
    // page, the logged-out page, the staff pages' error page.
    for path in ["/", "/no-such-page", "/logged-out", "/evidence", "/dpo"] {
        let response = reqwest::Client::new().get(app.url(path)).header("accept", "text/html").send().await.unwrap();
        let html = response.text().await.unwrap();
        assert_footer_links(path, &html);
    }
    app.stop().await;
}

#[tokio::test]
async fn missing_city_details_are_named_missing_and_dev_examples_are_marked() {
    fn no_city(config: &mut Config) {
        config.city = CityConfig::default();
    }
    let app =
        TestApp::start_with(TestAppOptions { adjust_config: Some(no_city), ..TestAppOptions::new(Backend::Sqlite) })
            .await;
    for path in ["/imprint", "/contact", "/privacy"] {
        let (status, html) = page(&app, &format!("{path}?lang=de")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Die Stadt hat diese Angaben noch nicht eingetragen."), "{path}: {html}");
    }
    let (_, html) = page(&app, "/sign-language?lang=en").await;
    assert!(html.contains("The city has not entered a video yet."), "{html}");
    let (_, html) = page(&app, "/accessibility?lang=en").await;
    assert!(html.contains("The city has not checked tresor yet."), "{html}");
    app.stop().await;

    fn example_city(config: &mut Config) {
        config.city = CityConfig::dev_example();
    }
    let app = TestApp::start_with(TestAppOptions {
        adjust_config: Some(example_city),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    for path in INFO_PAGES.into_iter().filter(|path| *path != "/easy-read") {
        let (_, html) = page(&app, &format!("{path}?lang=de")).await;
        assert!(html.contains("Beispiel: Diese Angaben sind Beispiele"), "{path}: the example is not marked");
    }
    app.stop().await;
}

/// POST the feedback form like a browser of this site does.
async fn send_feedback(app: &TestApp, client: &reqwest::Client, message: &str, contact: &str) -> reqwest::Response {
    client
        .post(app.url("/accessibility/feedback"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .form(&[("message", message), ("contact", contact), ("lang", "de")])
        .send()
        .await
        .unwrap()
}

async fn stored_feedback(app: &TestApp) -> Vec<tresor::store::FeedbackRecord> {
    app.store.feedback_newest_first(100, None).await.unwrap()
}

async fn feedback_is_stored_and_only_a_dpo_reads_it_with_an_audit_entry(backend: Backend) {
    let (app, _policies) = start(backend, None).await;
    let citizen = TestApp::no_redirect_browser();
    let message = "Die Tabelle auf der Seite Zugriffe\nist mit dem Screenreader schwer zu lesen. <b>Danke</b>";
    let response = send_feedback(&app, &citizen, message, "leser@example.org").await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/accessibility?sent=1&lang=de");
    let thanks = citizen.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(thanks.contains("Danke! Ihre Nachricht ist angekommen."), "{thanks}");
    let stored = stored_feedback(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message, message);
    assert_eq!(stored[0].contact, "leser@example.org");
    assert_eq!(stored[0].lang, "de");

    // Nobody but a DPO reads it: not anonymous, not a citizen, not staff
    // who are no DPO.
    let anonymous = reqwest::Client::new().get(app.url("/dpo/feedback")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(!anonymous.text().await.unwrap().contains("Screenreader"));
    let anna = TestApp::browser();
    app.login(&anna, "anna", None).await;
    let as_citizen = anna.get(app.url("/dpo/feedback")).send().await.unwrap();
    assert_eq!(as_citizen.status(), 401);
    // Staff who are no DPO get no staff session at all (refused at login).
    let ben = TestApp::browser();
    assert_eq!(app.staff_login(&ben, "ben").await.status(), 403);
    let as_other_staff = ben.get(app.url("/dpo/feedback")).send().await.unwrap();
    assert_eq!(as_other_staff.status(), 401);
    assert!(!as_other_staff.text().await.unwrap().contains("Screenreader"));
    let reads = |entries: &[tresor::store::StoredAuditEntry]| {
        entries
            .iter()
            .filter(|entry| {
                entry.body.as_deref().is_some_and(|body| String::from_utf8_lossy(body).contains("feedback_read"))
            })
            .count()
    };
    let before = app.store.audit_entries(&Default::default(), 10_000, None).await.unwrap();
    assert_eq!(reads(&before), 0, "refused reads read nothing");

    // The DPO reads it, escaped, line breaks kept, and the read is in the log.
    let dpo = TestApp::browser();
    app.staff_login(&dpo, DPO).await;
    let response = dpo.get(app.url("/dpo/feedback?lang=en")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Accessibility feedback"), "{html}");
    assert!(html.contains("Zugriffe\nist mit dem Screenreader"), "{html}");
    assert!(html.contains("&lt;b&gt;Danke&lt;/b&gt;") && !html.contains("<b>Danke"), "escaped: {html}");
    assert!(html.contains("leser@example.org"));
    assert!(html.contains("href=\"/dpo/feedback\" aria-current=\"page\""), "the DPO menu has the page");
    let after = app.store.audit_entries(&Default::default(), 10_000, None).await.unwrap();
    assert_eq!(reads(&after), 1, "the DPO's read is recorded");
    // The DPO's results table names the reason in words, the JSON keeps the code.
    let log = dpo.get(app.url("/dpo?lang=en&action=audit_query")).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("<td>Accessibility feedback read</td>") && !log.contains(">feedback_read<"), "{log}");
    let json: serde_json::Value =
        dpo.get(app.url("/api/v1/dpo/entries?action=audit_query")).send().await.unwrap().json().await.unwrap();
    assert!(json["entries"].as_array().unwrap().iter().any(|entry| entry["reason"] == "feedback_read"), "{json}");
    // Changing the statistics' period keeps the other filters of the address.
    let stats = dpo
        .get(app.url("/dpo/stats?department=wohngeldstelle&service=housing_benefit&period=6&lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for kept in [
        "<input type=\"hidden\" name=\"department\" value=\"wohngeldstelle\">",
        "<input type=\"hidden\" name=\"service\" value=\"housing_benefit\">",
    ] {
        assert!(stats.contains(kept), "{kept} missing: {stats}");
    }
    assert!(!stats.contains("type=\"hidden\" name=\"period\""), "the period is the form's own choice");

    // Older messages a page further; a bad page number is a clear 400.
    for number in 0..55 {
        send_feedback(&app, &citizen, &format!("Nachricht {number}"), "").await;
    }
    let html = dpo.get(app.url("/dpo/feedback?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Nachricht 54") && !html.contains("Nachricht 4<"), "newest first, 50 a page");
    let older = html.split("href=\"/dpo/feedback?before=").nth(1).expect("a link to older ones");
    let older = older.split('"').next().unwrap();
    let html = dpo.get(app.url(&format!("/dpo/feedback?before={older}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Nachricht 4</blockquote>") && html.contains("Screenreader"), "{html}");
    let bad = dpo.get(app.url("/dpo/feedback?before=x")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

async fn bad_feedback_is_refused_with_the_form_kept_and_nothing_stored(backend: Backend) {
    let (app, _policies) = start(backend, None).await;
    let client = TestApp::no_redirect_browser();

    let response = send_feedback(&app, &client, "   \n ", "meine@adresse.example").await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Fehler:"), "the title says so: {html}");
    assert!(html.contains("href=\"#feedback-message\""), "the summary links to the field: {html}");
    assert!(html.contains("Bitte schreiben Sie Ihre Nachricht."), "{html}");
    assert!(html.contains("value=\"meine@adresse.example\""), "the contact is kept: {html}");
    assert!(html.contains("aria-invalid=\"true\""));

    let long = "ä".repeat(5001);
    let response = send_feedback(&app, &client, &long, &"k".repeat(201)).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Ihre Nachricht ist zu lang. Höchstens 5.000 Zeichen."), "{html}");
    assert!(html.contains("Die Angabe ist zu lang. Höchstens 200 Zeichen."), "{html}");
    assert!(html.contains(&long), "the message is kept");
    assert!(html.contains("href=\"#feedback-contact\""));

    let response = send_feedback(&app, &client, "Text mit \u{202E}verdreht", "").await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("unsichtbare Steuerzeichen"));

    // A body beyond the bound is refused before it is read to the end.
    let huge = "x".repeat(70 * 1024);
    let response = send_feedback(&app, &client, &huge, "").await;
    assert_eq!(response.status(), 413);

    // Another site's form cannot post here.
    for (site, origin) in [("cross-site", "https://evil.example"), ("same-site", &app.base)] {
        let response = client
            .post(app.url("/accessibility/feedback"))
            .header("sec-fetch-site", site)
            .header("origin", origin)
            .form(&[("message", "gefälscht")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{site}");
    }
    let response = client
        .post(app.url("/accessibility/feedback"))
        .header("origin", "https://evil.example")
        .form(&[("message", "gefälscht")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a foreign origin without Sec-Fetch-Site");
    assert!(response.text().await.unwrap().contains("kam nicht von dieser Seite"));

    assert!(stored_feedback(&app).await.is_empty(), "nothing refused was stored");
    app.stop().await;
}

on_both_backends!(
    feedback_is_stored_and_only_a_dpo_reads_it_with_an_audit_entry,
    bad_feedback_is_refused_with_the_form_kept_and_nothing_stored,
);

#[tokio::test]
async fn feedback_is_limited_per_address_and_the_form_says_when_to_try_again() {
    let limits = Limits { feedback_messages_per_hour: 2, ..TestAppOptions::new(Backend::Sqlite).limits };
    let (app, _policies) = start(Backend::Sqlite, Some(limits)).await;
    let client = TestApp::no_redirect_browser();
    for number in 0..2 {
        assert_eq!(send_feedback(&app, &client, &format!("Nachricht {number}"), "").await.status(), 303);
    }
    // A message with a typo costs nothing from the budget, and is not stored.
    assert_eq!(send_feedback(&app, &client, "", "").await.status(), 422);
    let response = send_feedback(&app, &client, "Die dritte Nachricht", "ich@example.org").await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 60 && retry_after <= 1800, "{retry_after}");
    let html = response.text().await.unwrap();
    assert!(html.contains("zu viele Versuche"), "{html}");
    assert!(html.contains("Die dritte Nachricht") && html.contains("value=\"ich@example.org\""), "kept: {html}");
    assert_eq!(stored_feedback(&app).await.len(), 2, "the limited message was not stored");
    app.stop().await;
}
