//! The summary before sending, end to end through the HTML forms: "Weiter"
//! shows exactly what would be shared and creates nothing, "Ändern" brings
//! the form back with the choices kept, only the summary's "Freigeben"
//! creates the grant, and a tampered final step is refused by the vault
//! (creating nothing). The file: left out where the policy allows it (the
//! release then carries none), refused where the policy needs it.

use super::*;

/// The `(name, value)` pairs of every hidden input (the CSRF token and the
/// carried choices), as a browser submits them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    tags(html, "input")
        .into_iter()
        .filter(|tag| attribute(tag, "type").as_deref() == Some("hidden"))
        .map(|tag| (attribute(tag, "name").unwrap(), attribute(tag, "value").unwrap_or_default()))
        .collect()
}

/// The summary's form submitted with `decision`, after `adjust`.
fn summary_form(html: &str, decision: &str, adjust: impl FnOnce(&mut Vec<(String, String)>)) -> Vec<(String, String)> {
    let mut pairs = hidden_fields(html);
    adjust(&mut pairs);
    pairs.push(("decision".to_owned(), decision.to_owned()));
    pairs
}

fn set(pairs: &mut [(String, String)], name: &str, value: &str) {
    let pair = pairs.iter_mut().find(|(key, _)| key == name).unwrap_or_else(|| panic!("no {name}"));
    pair.1 = value.to_owned();
}

/// A copy of the shipped policies in which housing benefit needs the files
/// (`file_optional` removed).
fn policies_that_need_the_file(dir: &std::path::Path) -> std::path::PathBuf {
    let source = crate::support::app::shipped_policies();
    let target = dir.join("policies");
    std::fs::create_dir_all(target.join("services")).unwrap();
    for name in ["evidence-types.toml", "departments.toml", "staff.toml"] {
        std::fs::copy(source.join(name), target.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(source.join("services")).unwrap() {
        let entry = entry.unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = text.replace("file_optional = true\n", "");
        std::fs::write(target.join("services").join(entry.file_name()), text).unwrap();
    }
    target
}

/// "Weiter" shows the summary: the office and its contact, the service and
/// case reference, exactly the ticked values (formatted), the files, the
/// end date and the uses. Nothing is stored; the request stays pending.
/// "Ändern" brings the form back with every choice kept; a second "Weiter"
/// with the file left out, then "Freigeben": the grant, and a release with
/// no file at all.
async fn the_summary_shows_what_would_be_shared_and_only_its_button_shares(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    let income = upload(&app, &anna, "income_statement", INCOME, true).await;
    upload(&app, &anna, "residence_certificate", RESIDENCE, false).await;

    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("name=\"decision\" value=\"review\">Weiter</button>"), "{html}");
    assert!(!html.contains("value=\"approve\""), "the form itself shares nothing");
    assert!(html.contains("Wenn Sie „Vornamen“ nicht ankreuzen, stehen die Vornamen trotzdem in der Datei."));
    assert!(html.contains("<label for=\"without-files\">Datei nicht mitschicken</label>"));
    let form =
        consent_form(&html, &["income_statement.household_members", "residence_certificate.given_names"], "review");
    let now = app.clock.now();
    let summary = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(summary.status(), StatusCode::OK);
    let html = summary.text().await.unwrap();
    assert!(html.contains("<h1>Bitte prüfen Sie, was Sie freigeben</h1>"), "{html}");
    for shown in [
        "<dt>Amt</dt><dd>Wohngeldstelle</dd>",
        "<dd>AZ 4711/2026</dd>",
        "<dd>Wohngeld (Mietzuschuss)</dd>",
        "<dt>Bruttoeinkommen im Monat</dt><dd>3.250,00 €</dd>",
        "<dt>Nettoeinkommen im Monat</dt><dd>2.100,50 €</dd>",
        "<dd>01.01.2026</dd>",
        "<dt>Straße</dt><dd>Lindenallee</dd>",
        "<dd>Hauptwohnung</dd>",
        "Die Datei „nachweis.pdf“ (PDF, 5 kB) bekommt das Amt auch.",
        "Die Datei zeigt alles, was im Dokument steht",
    ] {
        assert!(html.contains(shown), "{shown} missing from the summary: {html}");
    }
    let end = tresor::http::i18n::format_date(tresor::policy::Lang::De, now + chrono::Duration::days(30));
    assert!(html.contains(&format!("bis zum {end} (30 Tage)")), "{html}");
    assert!(html.contains("<dt>Wie oft?</dt><dd><p>1 Mal</p>"), "{html}");
    for unticked in ["Personen im Haushalt", "Anna Maria", "Vornamen</dt>", "Zebrafink"] {
        assert!(!html.contains(unticked), "{unticked} is not shared, so not on the summary");
    }
    assert!(hidden_fields(&html).contains(&("doc.income_statement".to_owned(), income.clone())));
    assert_eq!(app.count_rows("grants").await, 0, "the summary creates nothing");
    assert_eq!(department_view(&app, "wohngeldstelle", &request_id).await["status"], "pending");

    // "Ändern": the form again, every choice as it was.
    let change = summary_form(&html, "change", |_| {});
    let back = anna.no_redirects().post(&approve_url).form(&change).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    let form_html = back.text().await.unwrap();
    assert!(!form_html.contains("error-summary"));
    let kept = consent_form(&form_html, &[], "review");
    let ticked = |pairs: &[(String, String)]| {
        let mut fields: Vec<String> =
            pairs.iter().filter(|(name, _)| name == "field").map(|(_, value)| value.clone()).collect();
        fields.sort();
        fields
    };
    assert_eq!(ticked(&kept), ticked(&form), "the ticked details are kept");
    assert!(!ticked(&kept).contains(&"income_statement.household_members".to_owned()));
    assert!(kept.contains(&("doc.income_statement".to_owned(), income.clone())));
    assert!(kept.contains(&("duration_days".to_owned(), "30".to_owned())));
    assert_eq!(app.count_rows("grants").await, 0);

    // Change: 60 days, 2 uses, leave the file out; the summary says so.
    let mut changed = kept;
    set(&mut changed, "duration_days", "60");
    set(&mut changed, "max_uses", "2");
    changed.push(("without_files".to_owned(), "yes".to_owned()));
    let html = anna.no_redirects().post(&approve_url).form(&changed).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Keine Datei. Sie schicken die Datei nicht mit."), "{html}");
    assert!(!html.contains("nachweis.pdf"));
    assert!(html.contains("(60 Tage)") && html.contains("<p>2 Mal</p>"), "{html}");
    assert_eq!(app.count_rows("grants").await, 0);

    // "Freigeben": the grant, exactly as summarised.
    let share = summary_form(&html, "approve", |_| {});
    let answer = anna.no_redirects().post(&approve_url).form(&share).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()[LOCATION], "/grants?notice=approved");
    let grants = grants_json(&app, &anna).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["without_files"], true);
    assert_eq!(grants[0]["max_uses"], 2);
    assert!(!grants[0]["fields"].as_array().unwrap().contains(&json!("income_statement.household_members")));
    let page = anna.browser.get(app.url("/grants")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Die Dateien haben Sie nicht mitgeschickt.") && !page.contains("Das Amt bekommt auch"));

    // The release: the approved values, no file.
    let grant_id = department_view(&app, "wohngeldstelle", &request_id).await["grant_id"].as_str().unwrap().to_owned();
    let release = app
        .as_department("wohngeldstelle", Method::GET, &format!("/api/v1/dept/grants/{grant_id}/release"))
        .send()
        .await
        .unwrap();
    assert_eq!(release.status(), StatusCode::OK);
    let body: Value = release.json().await.unwrap();
    let evidence = body["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e["fields"]["net_monthly_income"] == "2100.50"), "{body}");
    assert!(evidence.iter().all(|e| e.get("file").is_none_or(Value::is_null)), "no file: {body}");
    app.stop().await;
}

/// A tampered final step (a field the service does not read, more uses than
/// allowed, someone else's document, the file left out where the policy
/// needs it) is refused by the vault with a plain message on the form; so
/// is the same at the summary step; nothing is stored. A GET never shares.
async fn a_tampered_final_step_is_refused_and_creates_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = crate::support::app::TestAppOptions::new(backend);
    options.policy_dir = Some(policies_that_need_the_file(dir.path()));
    let app = TestApp::start_with(options).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let ben = log_in(&app, "ben", "substantial").await;
    let bens = upload(&app, &ben, "income_statement", BEN_INCOME, false).await;
    let anna = log_in(&app, "anna", "substantial").await;
    upload(&app, &anna, "income_statement", INCOME, true).await;

    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("name=\"without_files\""), "no checkbox where the policy needs the file");
    assert!(html.contains("Für dieses Anliegen braucht das Amt die Datei."), "{html}");
    let review = consent_form(&html, &[], "review");
    let summary = anna.no_redirects().post(&approve_url).form(&review).send().await.unwrap().text().await.unwrap();
    assert!(summary.contains("Bitte prüfen Sie, was Sie freigeben"), "{summary}");

    type Tamper = fn(&mut Vec<(String, String)>);
    let cases: [(&str, Tamper, &str); 5] = [
        (
            "a field the service does not read",
            |pairs| pairs.push(("field".to_owned(), "income_statement.employer".to_owned())),
            "Eine gewählte Angabe gehört nicht zu diesem Anliegen.",
        ),
        ("more uses than allowed", |pairs| set(pairs, "max_uses", "4"), "Bitte wählen Sie eine Anzahl aus der Liste."),
        ("a longer duration", |pairs| set(pairs, "duration_days", "91"), "Bitte wählen Sie eine Dauer aus der Liste."),
        (
            "the file left out where the policy needs it",
            |pairs| pairs.push(("without_files".to_owned(), "yes".to_owned())),
            "Für dieses Anliegen braucht das Amt die Datei. Sie können die Datei hier nicht weglassen.",
        ),
        ("someone else's document", |_| {}, "Ein gewähltes Dokument gibt es nicht mehr."),
    ];
    for (what, tamper, message) in cases {
        for decision in ["approve", "review"] {
            let form = summary_form(&summary, decision, |pairs| {
                tamper(pairs);
                if what == "someone else's document" {
                    set(pairs, "doc.income_statement", &bens);
                }
            });
            let refused = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what} ({decision})");
            let html = refused.text().await.unwrap();
            assert!(html.contains(message), "{what} ({decision}): {html}");
            assert!(html.contains("class=\"error-summary\""), "{what} ({decision})");
            assert!(!html.contains("4711.11") && !html.contains("4.711,11"), "nothing of ben's shown");
        }
    }
    let income = review.iter().find(|(name, _)| name == "doc.income_statement").unwrap().1.clone();
    let error = approve_json(
        &app,
        &anna,
        &request_id,
        json!({ "evidence": [income], "fields": ["income_statement.net_monthly_income"],
                "duration_days": 30, "max_uses": 1, "without_files": true }),
    )
    .await;
    assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(error).await, "file_required");

    // A GET with the choices in its query only shows the form.
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(summary_form(&summary, "approve", |_| {}))
        .finish();
    let get = anna.no_redirects().get(format!("{approve_url}?{query}")).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert!(get.text().await.unwrap().contains("value=\"review\">Weiter</button>"));
    assert_eq!(app.count_rows("grants").await, 0, "nothing stored by any of it");
    assert_eq!(department_view(&app, "wohngeldstelle", &request_id).await["status"], "pending");

    // The untouched summary still works: the grant, with the file.
    let share = summary_form(&summary, "approve", |_| {});
    let answer = anna.no_redirects().post(&approve_url).form(&share).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(grants_json(&app, &anna).await[0]["without_files"], false);
    app.stop().await;
}

on_both_backends!(
    the_summary_shows_what_would_be_shared_and_only_its_button_shares,
    a_tampered_final_step_is_refused_and_creates_nothing,
);
