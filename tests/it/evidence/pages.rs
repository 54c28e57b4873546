//! Evidence end to end, continued: the pages without JavaScript, in German
//! and English.

use super::*;

// --- 7. pages without JavaScript -------------------------------------------------------------

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.expect("page");
    let status = response.status();
    (status, response.text().await.expect("html"))
}

/// The form fields of the upload form as a browser would send them: the
/// input names come from the page, the values from `INCOME_FIELDS`.
fn form_from_page(html: &str, csrf: &str, values: &[(&str, &str)], file: Option<Attachment>) -> Form {
    let mut form = Form::new().text("csrf", csrf.to_owned()).text("type", "income_statement");
    for (name, value) in values {
        // A date is three fields (Tag, Monat, Jahr): "01.12.2026" typed into them.
        if html.contains(&format!("name=\"field.{name}.day\"")) {
            for (part, typed) in ["day", "month", "year"].iter().zip(value.split('.')) {
                form = form.text(format!("field.{name}.{part}"), typed.to_owned());
            }
            continue;
        }
        let input_name = [format!("field.{name}"), (*name).to_owned()]
            .into_iter()
            .find(|candidate| html.contains(&format!("name=\"{candidate}\"")))
            .unwrap_or_else(|| panic!("the form has no input for {name}"));
        form = form.text(input_name, (*value).to_owned());
    }
    if let Some(file) = file {
        form =
            form.part("file", Part::bytes(file.bytes).file_name(file.name).mime_str(file.claimed_type).expect("mime"));
    }
    form
}

pub(super) async fn pages_work_without_javascript(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let browser = anna.no_redirects();

    let (status, html) = page(&browser, &app, "/evidence/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"type\" value=\"income_statement\""), "type choice: {html}");
    assert!(html.contains("name=\"type\" value=\"severe_disability_certificate\""));

    let (status, form_html) = page(&browser, &app, "/evidence/new?type=income_statement").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form_html.contains(&format!("name=\"csrf\" value=\"{}\"", anna.csrf)), "{form_html}");
    assert!(form_html.contains("enctype=\"multipart/form-data\""));
    for (name, _) in INCOME_FIELDS {
        let posts_as = |input: String| form_html.contains(&format!("name=\"{input}\""));
        assert!(
            posts_as(format!("field.{name}")) || posts_as(format!("field.{name}.day")),
            "the input for {name} posts as field.{name} (dates as field.{name}.day, .month, .year)"
        );
    }

    // Submit: 303 to the new evidence's page.
    let file = pdf(70_000);
    let mut values = INCOME_FIELDS.to_vec();
    values.retain(|(name, _)| *name != "employer");
    values.push(("employer", "Zebrafink Maschinenbau GmbH <b>Dezember</b>"));
    values.push(("number_of_children", "2"));
    let form = form_from_page(&form_html, &anna.csrf, &values, Some(attachment("Nachweis.pdf", file.clone())));
    let response = browser.post(app.url("/evidence")).multipart(form).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().expect("ascii").to_owned();
    let id = location
        .strip_prefix("/evidence/")
        .and_then(|rest| rest.strip_suffix("?notice=stored"))
        .expect("redirect to the evidence page with the confirmation")
        .to_owned();
    assert_eq!(listed_ids(&app, &anna).await, vec![id.clone()]);
    let (status, detail) = page(&browser, &app, &location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("role=\"status\"><p>Ihr Nachweis ist gespeichert."), "{detail}");
    assert!(detail.contains("Zebrafink Maschinenbau GmbH"), "{detail}");
    assert!(detail.contains("1.234,50 €"), "amounts are shown as Germans write them: {detail}");
    assert!(detail.contains("&lt;b&gt;Dezember&lt;/b&gt;"), "field values are escaped: {detail}");
    assert!(!detail.contains("<b>Dezember</b>"));
    let download = browser.get(app.url(&format!("/evidence/{id}/file"))).send().await.expect("download");
    assert_eq!(download.headers()[CONTENT_TYPE], "application/pdf");
    assert!(download.bytes().await.expect("bytes") == file);

    // An invalid value: the form again, with the summary and the field's error.
    let mut bad = INCOME_FIELDS.to_vec();
    bad.retain(|(name, _)| *name != "gross_monthly_income");
    bad.push(("gross_monthly_income", "zwölf Euro"));
    let form = form_from_page(&form_html, &anna.csrf, &bad, None);
    let response = browser.post(app.url("/evidence")).multipart(form).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains("class=\"error-summary\""), "{html}");
    assert!(html.contains("href=\"#field-gross_monthly_income\""), "the summary links to the field: {html}");
    assert!(html.contains("id=\"field-gross_monthly_income-error\""), "the error is next to the field");
    assert!(html.contains("value=\"zwölf Euro\""), "what was typed is kept");
    assert!(html.contains("value=\"Zebrafink Maschinenbau GmbH\""));
    assert_eq!(listed_ids(&app, &anna).await, vec![id.clone()], "nothing new stored");

    // A page form without the CSRF part is refused and stores nothing.
    let form = Form::new().text("type", "income_statement").text("field.employer", "X");
    let response = browser.post(app.url("/evidence")).multipart(form).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Delete: the confirmation page, then the form post.
    let (status, confirm) = page(&browser, &app, &format!("/evidence/{id}/delete")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains(&format!("action=\"/evidence/{id}/delete\"")), "{confirm}");
    assert!(confirm.contains(&format!("name=\"csrf\" value=\"{}\"", anna.csrf)));
    let response = browser
        .post(app.url(&format!("/evidence/{id}/delete")))
        .form(&[("csrf", anna.csrf.as_str())])
        .send()
        .await
        .expect("delete");
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[LOCATION], "/evidence?notice=deleted");
    let (_, list) = page(&browser, &app, "/evidence?notice=deleted").await;
    assert!(list.contains("role=\"status\"><p>Der Nachweis ist gelöscht.</p>"), "{list}");
    assert_eq!(page(&browser, &app, &format!("/evidence/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_nothing_stored(&app, "after the page delete").await;

    // Erasing the account by the page form: the confirmation says so, the
    // session is gone.
    let response = browser
        .post(app.url("/account/erase"))
        .form(&[("csrf", anna.csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .expect("erase");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/logged-out?notice=erased");
    let (status, erased) = page(&browser, &app, "/logged-out?notice=erased").await;
    assert_eq!(status, StatusCode::OK);
    assert!(erased.contains("<h1>Ihr Konto ist gelöscht</h1>"), "{erased}");
    assert_eq!(page(&browser, &app, "/evidence").await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

pub(super) async fn pages_speak_german_or_english(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;

    let (status, html) = page(&anna.browser, &app, "/evidence").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<html lang=\"de\""), "German by default");

    let response = anna.browser.get(app.url("/evidence/new?lang=en")).send().await.expect("page");
    let cookie = response.headers().get(SET_COOKIE).map(|v| v.to_str().expect("ascii").to_owned());
    assert!(cookie.as_deref().is_some_and(|c| c.starts_with("lang=en;")), "{cookie:?}");
    let html = response.text().await.expect("html");
    assert!(html.contains("<html lang=\"en\""));
    assert!(html.contains("Which evidence do you want to add?"));

    // The cookie keeps English without the parameter; ?lang=de switches back.
    let (_, html) = page(&anna.browser, &app, "/evidence/new?type=income_statement").await;
    assert!(html.contains("<html lang=\"en\""));
    assert!(html.contains("Gross income per month"));
    let (_, html) = page(&anna.browser, &app, "/evidence?lang=de").await;
    assert!(html.contains("<html lang=\"de\""));

    // Accept-Language without a cookie.
    let stranger = TestApp::browser();
    let english = stranger.get(app.url("/")).header("Accept-Language", "en-GB,en;q=0.9").send().await.expect("page");
    assert!(english.text().await.expect("html").contains("<html lang=\"en\""));
    let german = stranger.get(app.url("/")).header("Accept-Language", "de-DE,de;q=0.9,en;q=0.5").send().await;
    assert!(german.expect("page").text().await.expect("html").contains("<html lang=\"de\""));
    app.stop().await;
}
