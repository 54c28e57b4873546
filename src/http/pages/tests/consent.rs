//! The consent form's file choice and the summary before sending.

use super::*;

/// A summary of two income values and the payslip, 30 days, one use.
pub(super) fn summary_view() -> ConsentSummaryView {
    ConsentSummaryView {
        session_minutes: 30,
        request_id: "0123456789abcdef0123456789abcdef".to_owned(),
        department_name: "Wohngeldstelle".to_owned(),
        contact: Some("Rathaus, Zimmer 12, Telefon 0123 456-0".to_owned()),
        service_name: "Wohngeld".to_owned(),
        reference: "WG-2026-0815".to_owned(),
        documents: vec![SummaryDocument {
            type_index: 0,
            type_name: "Einkommensnachweis".to_owned(),
            created_at: date(),
            values: vec![
                ("Nettoeinkommen".to_owned(), Some("2.100,50 €".to_owned())),
                ("Zeitraum bis".to_owned(), None),
            ],
        }],
        files: SummaryFiles::Shared(vec![FileInfo {
            name: "lohn.pdf".to_owned(),
            media_type: "application/pdf".to_owned(),
            size: 70_000,
        }]),
        duration_days: 30,
        ends_at: date() + chrono::Duration::days(30),
        max_uses: 1,
        hidden: vec![
            ("doc.income_statement".to_owned(), "aaaa0000aaaa0000aaaa0000aaaa0000".to_owned()),
            ("doc.rent_certificate".to_owned(), "none".to_owned()),
            ("field".to_owned(), "income_statement.net_monthly_income".to_owned()),
            ("duration_days".to_owned(), "30".to_owned()),
            ("max_uses".to_owned(), "1".to_owned()),
        ],
    }
}

/// The `(name, value)` of each hidden input of `form`, in order.
fn hidden_inputs(form: &str) -> Vec<(&str, &str)> {
    start_tags(form, "input")
        .into_iter()
        .filter(|tag| attribute(tag, "type") == Some("hidden"))
        .map(|tag| (attribute(tag, "name").expect("name"), attribute(tag, "value").expect("value")))
        .collect()
}

#[test]
fn consent_form_says_the_file_shows_more_and_offers_to_leave_it_out_where_allowed() {
    let ctx = context(Lang::De, false, true);
    let html = consent_page(&ctx, &consent_view()).into_string();
    assert!(html.contains("<fieldset class=\"consent-document\" id=\"consent-files\"><legend>Die Datei zum Dokument"));
    assert!(html.contains("Wenn Sie „Vornamen“ nicht ankreuzen, stehen die Vornamen trotzdem in der Datei."), "{html}");
    let checkbox = start_tags(&html, "input")
        .into_iter()
        .find(|tag| attribute(tag, "name") == Some("without_files"))
        .expect("the leave-out checkbox");
    assert_eq!(attribute(checkbox, "type"), Some("checkbox"));
    assert_eq!(attribute(checkbox, "value"), Some("yes"));
    assert!(!has_flag(checkbox, "checked"), "the file goes along unless the citizen says otherwise");
    assert!(html.contains("<label for=\"without-files\">Datei nicht mitschicken</label>"));
    // Kept after a round trip.
    let mut view = consent_view();
    view.without_files = true;
    let html = consent_page(&ctx, &view).into_string();
    let checkbox = start_tags(&html, "input")
        .into_iter()
        .find(|tag| attribute(tag, "name") == Some("without_files"))
        .expect("the checkbox");
    assert!(has_flag(checkbox, "checked"));

    // Where the policy needs the file: said, no checkbox, denying is the way out.
    let mut view = consent_view();
    view.file_optional = false;
    let html = consent_page(&ctx, &view).into_string();
    assert!(!html.contains("name=\"without_files\""));
    assert!(html.contains("Für dieses Anliegen braucht das Amt die Datei."));
    assert!(html.contains("stehen die Vornamen trotzdem in der Datei"));
    // A service without files says nothing about them.
    view.releases_files = false;
    let html = consent_page(&ctx, &view).into_string();
    assert!(!html.contains("id=\"consent-files\"") && !html.contains("Vornamen"));
}

#[test]
fn consent_form_continues_to_the_summary_and_each_document_can_be_pointed_at() {
    let html = consent_page(&context(Lang::En, false, true), &consent_view()).into_string();
    let buttons = start_tags(&html, "button");
    let values: Vec<_> = buttons.iter().filter_map(|tag| attribute(tag, "value")).collect();
    assert_eq!(values, ["review", "deny"], "no button shares anything from the form itself");
    assert!(html.contains("value=\"review\">Continue</button>"));
    // The form says how long the session lasts (issue 15 item 1).
    assert!(html.contains("<p class=\"session-note\">"), "{html}");
    let summary = consent_summary_page(&context(Lang::De, false, true), &summary_view()).into_string();
    assert!(summary.contains("<p class=\"session-note\">"), "the summary says it too");
    assert!(html.contains("<fieldset class=\"consent-document\" id=\"consent-doc-0\">"));
    assert!(html.contains("<fieldset class=\"consent-document\" id=\"consent-doc-1\">"));
}

#[test]
fn summary_shows_to_whom_which_values_which_file_until_when_and_how_often() {
    let html = consent_summary_page(&context(Lang::De, false, true), &summary_view()).into_string();
    assert_eq!(title(&html), "Bitte prüfen Sie, was Sie freigeben – tresor");
    assert!(html.contains("Noch ist nichts freigegeben."));
    for row in [
        "<dt>Amt</dt><dd>Wohngeldstelle</dd>",
        "<dt>So erreichen Sie das Amt</dt><dd>Rathaus, Zimmer 12, Telefon 0123 456-0</dd>",
        "<dt>Ihr Anliegen</dt><dd>Wohngeld</dd>",
        "<dd>WG-2026-0815</dd>",
        "<h3>Einkommensnachweis</h3><p>Dokument vom 23.11.2026</p>",
        "<dt>Nettoeinkommen</dt><dd>2.100,50 €</dd>",
        "<dt>Zeitraum bis</dt><dd>(nicht angegeben)</dd>",
        "Die Datei „lohn.pdf“ (PDF, 70 kB) bekommt das Amt auch.",
        "Die Datei zeigt alles, was im Dokument steht",
        "<dt>Bis wann?</dt><dd><p>bis zum 23.12.2026 (30 Tage)</p>",
        "<dt>Wie oft?</dt><dd><p>1 Mal</p>",
    ] {
        assert!(html.contains(row), "{row} missing: {html}");
    }
    let form = forms(&html).into_iter().find(|form| form.contains("action=\"/requests/")).expect("the form");
    let form_tag = start_tags(form, "form")[0];
    assert_eq!(attribute(form_tag, "method"), Some("post"));
    assert_eq!(attribute(form_tag, "action"), Some("/requests/0123456789abcdef0123456789abcdef"));
    let hidden = hidden_inputs(form);
    assert_eq!(hidden[0], ("csrf", TOKEN));
    assert_eq!(
        &hidden[1..],
        [
            ("doc.income_statement", "aaaa0000aaaa0000aaaa0000aaaa0000"),
            ("doc.rent_certificate", "none"),
            ("field", "income_statement.net_monthly_income"),
            ("duration_days", "30"),
            ("max_uses", "1"),
        ]
    );
    // Change buttons post the same choices back to the form, each to its place.
    let buttons = start_tags(form, "button");
    let changes: Vec<_> = buttons
        .iter()
        .filter(|tag| attribute(tag, "value") == Some("change"))
        .map(|tag| attribute(tag, "formaction").expect("formaction"))
        .collect();
    let base = "/requests/0123456789abcdef0123456789abcdef";
    assert_eq!(
        changes,
        [
            format!("{base}#consent-doc-0"),
            format!("{base}#consent-files"),
            format!("{base}#duration"),
            format!("{base}#max-uses")
        ]
    );
    assert!(html.contains("Ändern<span class=\"visually-hidden\">: Einkommensnachweis</span>"));
    assert!(html.contains("Ändern<span class=\"visually-hidden\">: Bis wann?</span>"));
    let last = buttons.last().expect("the share button");
    assert_eq!((attribute(last, "name"), attribute(last, "value")), (Some("decision"), Some("approve")));
    assert!(html.contains("value=\"approve\">Freigeben</button>"));
    assert_eq!(start_tags(&html, "a").iter().filter(|tag| attribute(tag, "href") == Some(base)).count(), 0);
}

#[test]
fn summary_says_when_the_file_is_left_out_or_not_shared_at_all() {
    let ctx = context(Lang::En, false, true);
    let mut view = summary_view();
    view.files = SummaryFiles::LeftOut;
    view.hidden.push(("without_files".to_owned(), "yes".to_owned()));
    let html = consent_summary_page(&ctx, &view).into_string();
    assert!(html.contains("No file. You do not send the file."));
    assert!(!html.contains("lohn.pdf"));
    assert!(hidden_inputs(&html).contains(&("without_files", "yes")));
    view.files = SummaryFiles::Shared(Vec::new());
    let html = consent_summary_page(&ctx, &view).into_string();
    assert!(html.contains("No file. The chosen documents have no file."));
    view.files = SummaryFiles::NotReleased;
    let html = consent_summary_page(&ctx, &view).into_string();
    assert!(!html.contains("<dt>File</dt>") && !html.contains("#consent-files"));
    assert!(html.contains("value=\"approve\">Share</button>"));
}

#[test]
fn summary_escapes_what_citizens_and_offices_typed() {
    let mut view = summary_view();
    view.reference = EVIL.to_owned();
    view.documents[0].values[0].1 = Some(EVIL.to_owned());
    view.hidden.push(("field".to_owned(), EVIL.to_owned()));
    view.files = SummaryFiles::Shared(vec![FileInfo { name: EVIL.to_owned(), media_type: EVIL.to_owned(), size: 1 }]);
    let html = consent_summary_page(&context(Lang::De, false, true), &view).into_string();
    assert!(!html.contains(EVIL), "{html}");
    assert!(html.contains("&lt;script&gt;"));
}

#[test]
fn grants_page_says_when_the_files_were_left_out() {
    let mut items = grant_items();
    items[0].with_files = false;
    items[0].files_left_out = true;
    let html = grants_page(&context(Lang::De, false, true), &items, None).into_string();
    assert!(html.contains("Die Dateien haben Sie nicht mitgeschickt."));
    assert_eq!(html.matches("Das Amt bekommt auch die Datei").count(), 1, "only the other grant has files");
}
