//! The public service catalogue (`GET /services`, `GET /api/v1/services`):
//! without a login, generated from the policies in force, every service
//! with exactly the fields and files its policy allows, in both languages.

use reqwest::StatusCode;
use serde_json::Value;
use tresor::policy::Policies;

use crate::support::app::{Backend, TestApp, shipped_policies};

#[tokio::test]
async fn the_catalogue_lists_every_service_exactly_as_its_policy_allows() {
    let app = TestApp::start(Backend::Sqlite).await;
    let policies = Policies::load(&shipped_policies()).unwrap();
    let anonymous = TestApp::browser();

    let response = anonymous.get(app.url("/api/v1/services")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    let listed = body["services"].as_array().unwrap();
    assert_eq!(listed.len(), policies.services.iter().count());
    for service in policies.services.iter() {
        let entry = listed.iter().find(|entry| entry["id"] == service.id.as_str()).expect("every service is listed");
        let fields: Vec<&str> =
            entry["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        let allowed: Vec<String> = service.fields.iter().map(ToString::to_string).collect();
        assert_eq!(fields, allowed, "{}: exactly the policy's fields, in its order", service.id);
        assert_eq!(entry["max_uses"], service.max_uses);
        assert_eq!(entry["max_grant_duration_days"], service.max_grant_duration_days);
        assert_eq!(entry["min_login_level"], service.min_login_level.as_str());
        assert_eq!(entry["department"]["id"], service.department.as_str());
        assert_eq!(entry["purpose"]["de"], service.purpose.de.as_str());
        assert_eq!(entry["purpose"]["en"], service.purpose.en.as_str());
        let files = match (service.file, service.file_optional) {
            (false, _) => "none",
            (true, false) => "required",
            (true, true) => "optional",
        };
        assert_eq!(entry["files"], files, "{}", service.id);
    }
    let housing = listed.iter().find(|entry| entry["id"] == "housing_benefit").unwrap();
    assert_eq!(housing["files"], "optional", "housing benefit lets the citizen leave the file out");
    let parking = listed.iter().find(|entry| entry["id"] == "resident_parking_permit").unwrap();
    assert_eq!(parking["files"], "none");
    assert_eq!(parking["fields"][4]["label"]["de"], "Amtliches Kennzeichen", "{}", parking["fields"][4]);

    for (lang, heading, files_note) in [
        ("de", "Welches Amt welche Daten anfragen darf", "Keine Datei."),
        ("en", "Which office may ask for which data", "No file."),
    ] {
        let response = anonymous.get(app.url(&format!("/services?lang={lang}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "no login needed");
        let page = response.text().await.unwrap();
        assert!(page.contains(heading), "{lang}");
        assert!(page.contains(files_note), "{lang}");
        for service in policies.services.iter() {
            let name = if lang == "de" { &service.name.de } else { &service.name.en };
            assert!(page.contains(&maud::html! { (name) }.into_string()), "{lang}: {name}");
            assert!(page.contains(&format!("id=\"service-{}\"", service.id)), "{lang}: anchor of {}", service.id);
        }
        assert!(page.contains("href=\"/api/v1/services\""), "{lang}: links the open data");
    }
    // Every page's footer links the catalogue.
    let start = anonymous.get(app.url("/accessibility")).send().await.unwrap().text().await.unwrap();
    assert!(start.contains("href=\"/services\""));
}
